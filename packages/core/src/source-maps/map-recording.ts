import type { CaptureKind } from '../types.js'
import type { CpuProfile, HeapProfile } from '../formats/v8-profiles.js'
import { jsonRecording, type Recording } from '../recorders/recorder.js'
import type { FrameCounts } from './frame-mapper.js'
import { mapCpuProfile, mapHeapProfile } from './map-profile.js'
import type { SourceMapLookup } from './source-map-cache.js'

export interface MappedRecording {
  /** The recording to store: mapped, or the input itself when nothing changed or mapping could not be kept. */
  recording: Recording
  /** What the stored profile holds: `mapped` is 0 when the input is stored as it was. */
  frames: FrameCounts
}

/**
 * A finished CPU or heap recording with its frames mapped to original sources, re-serialised (new bytes and
 * digest). Undefined for kinds and bodies it does not handle (heap snapshots, spooled bodies). Never rejects:
 * mapping is a nicety, and the capture must be stored either way.
 *
 * `maxBytes`: original paths are usually longer than `dist/` ones, so a mapped body can outgrow the profile
 * bound that the raw one met; then the raw one is kept.
 */
export async function mapRecording(
  kind: CaptureKind,
  recording: Recording,
  lookup: SourceMapLookup,
  maxBytes: number,
): Promise<MappedRecording | undefined> {
  if ((kind !== 'cpu' && kind !== 'heap') || !('buffer' in recording.body)) return undefined
  try {
    const profile: unknown = recording.profile ?? JSON.parse(recording.body.buffer.toString('utf8'))
    const { profile: mapped, frames } =
      kind === 'cpu'
        ? await mapCpuProfile(profile as CpuProfile, lookup)
        : await mapHeapProfile(profile as HeapProfile, lookup)
    if (frames.mapped === 0) return { recording, frames }
    const serialised = jsonRecording(mapped, recording.sampling ?? { samples: 0 })
    if (recording.sampling === undefined) delete serialised.sampling
    if (serialised.bytes > maxBytes) return { recording, frames: { total: frames.total, mapped: 0 } }
    return { recording: serialised, frames }
  } catch {
    return undefined
  }
}
