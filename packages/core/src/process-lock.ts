/**
 * One capture at a time per process. The inspector is per process and V8's sampling heap profiler is one per
 * isolate, so the lock lives on `globalThis` under a versioned `Symbol.for` key: two installed copies of
 * `@tripwire/core` (or two controllers) see the same holder and refuse each other.
 */
const LOCK_KEY = Symbol.for('tripwire.capture-lock.v1')

export interface LockHolder {
  id: string
  kind: string
  startedAt: string
  /** Epoch ms at which the capture is due to end at the latest; absent for point-in-time captures. */
  endsBy?: number
}

interface LockState {
  holder: LockHolder | undefined
}

function lockState(): LockState {
  const global = globalThis as typeof globalThis & { [LOCK_KEY]?: LockState }
  return (global[LOCK_KEY] ??= { holder: undefined })
}

/** Takes the lock and returns its release function, or returns the current holder when it is taken. */
export function tryAcquireCaptureLock(holder: LockHolder): { release: () => void } | { heldBy: LockHolder } {
  const state = lockState()
  if (state.holder !== undefined) return { heldBy: state.holder }
  state.holder = holder
  let released = false
  return {
    release: () => {
      if (released) return
      released = true
      if (state.holder === holder) state.holder = undefined
    },
  }
}

export function currentLockHolder(): LockHolder | undefined {
  return lockState().holder
}
