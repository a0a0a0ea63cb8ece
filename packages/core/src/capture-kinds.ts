import type { CaptureKind } from './types.js'

export interface CaptureKindInfo {
  /** File extension that DevTools and speedscope recognise. */
  extension: 'cpuprofile' | 'heapprofile' | 'heapsnapshot'
  contentType: string
}

export const CAPTURE_KINDS: Readonly<Record<CaptureKind, CaptureKindInfo>> = Object.freeze({
  cpu: { extension: 'cpuprofile', contentType: 'application/json' },
  heap: { extension: 'heapprofile', contentType: 'application/json' },
  heapsnapshot: { extension: 'heapsnapshot', contentType: 'application/json' },
})

export function isCaptureKind(value: unknown): value is CaptureKind {
  return typeof value === 'string' && Object.hasOwn(CAPTURE_KINDS, value)
}

/** `<id>.<extension>`: the name a capture's body is stored and downloaded under. */
export function captureFileName(id: string, kind: CaptureKind): string {
  return `${id}.${CAPTURE_KINDS[kind].extension}`
}
