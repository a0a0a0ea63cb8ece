import { ErrorCodes, TripwireError } from '../errors.js'
import { InspectorSession } from '../inspector-session.js'
import type { HeapProfile } from '../formats/v8-profiles.js'
import { jsonRecording, type Recorder, type Recording } from './recorder.js'

export interface HeapRecorderOptions {
  samplingIntervalBytes: number
  includeCollected: boolean
}

const NOT_STARTED = 'sampling heap profiler was not started'
/**
 * After finding the sampler taken, heap starts are refused without asking again for a while: asking reads the
 * other owner's whole allocation profile on the main thread, which is not free when an APM agent holds it.
 */
const SAMPLER_TAKEN_BACKOFF_MS = 30_000
let samplerTakenUntil = 0

/**
 * Starts V8's sampling heap profiler. There is one per isolate and the inspector does not guard it: a second
 * start silently shares the first owner's sampler and whoever stops first takes it from everyone. So before
 * starting, make sure nobody else holds it, and never start it when `--heap-prof` will want it at exit.
 */
export async function startHeapRecorder(options: HeapRecorderOptions): Promise<Recorder> {
  if (heapProfFlagPresent()) {
    throw new TripwireError(
      ErrorCodes.PROFILER_IN_USE,
      'heap sampling refused: the process runs with --heap-prof, which owns V8 sampling heap profiler until exit',
    )
  }
  if (performance.now() < samplerTakenUntil) throw samplerTaken()
  const session = await InspectorSession.openWith(async (session) => {
    await assertSamplerFree(session)
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: options.samplingIntervalBytes,
      includeObjectsCollectedByMajorGC: options.includeCollected,
      includeObjectsCollectedByMinorGC: options.includeCollected,
    })
  })
  return {
    async finish(): Promise<Recording> {
      try {
        // stopSampling forces a full GC first (~100–200 ms per 200 MB of heap): it runs after the window
        const { profile } = await session
          .post<{ profile: HeapProfile }>('HeapProfiler.stopSampling')
          .catch((error: unknown) => {
            if (String((error as Error).message).includes(NOT_STARTED)) {
              throw new TripwireError(
                ErrorCodes.PROFILER_IN_USE,
                'another tool stopped V8 sampling heap profiler during the capture; its samples are lost',
                { cause: error },
              )
            }
            throw error
          })
        return jsonRecording(profile, { samples: profile.samples?.length ?? 0 })
      } finally {
        session.dispose()
      }
    },
    discard: () => session.dispose(),
  }
}

/** Reading the profile answers "not started" at no cost when the sampler is free. */
async function assertSamplerFree(session: InspectorSession): Promise<void> {
  try {
    await session.post('HeapProfiler.getSamplingProfile')
  } catch (error) {
    if (String((error as Error).message).includes(NOT_STARTED)) return
    throw error
  }
  samplerTakenUntil = performance.now() + SAMPLER_TAKEN_BACKOFF_MS
  throw samplerTaken()
}

function samplerTaken(): TripwireError {
  return new TripwireError(
    ErrorCodes.PROFILER_IN_USE,
    'heap sampling refused: another tool (a debugger, an APM agent) is already using V8 sampling heap profiler',
  )
}

function heapProfFlagPresent(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  return flags.some((flag) => flag === '--heap-prof' || flag.startsWith('--heap-prof='))
}
