import { InspectorSession } from '../inspector-session.js'
import type { CpuProfile } from '../formats/v8-profiles.js'
import { jsonRecording, type Recorder, type Recording } from './recorder.js'

/**
 * Starts a CPU profile on a session of its own. The Profiler domain is enabled only while recording: while it
 * is enabled, the application's `console.profile()` calls would start profiles inside this session.
 */
export async function startCpuRecorder(samplingIntervalUs: number): Promise<Recorder> {
  const session = await InspectorSession.openWith(async (session) => {
    await session.post('Profiler.enable')
    // must come before start: V8 refuses to change the interval while recording
    await session.post('Profiler.setSamplingInterval', { interval: samplingIntervalUs })
    await session.post('Profiler.start')
  })
  return {
    async finish(): Promise<Recording> {
      try {
        const { profile } = await session.post<{ profile: CpuProfile }>('Profiler.stop')
        // the profile is already in hand: a failed disable must not lose it (dispose() disconnects anyway)
        await session.post('Profiler.disable').catch(() => undefined)
        const samples = profile.samples?.length ?? 0
        // V8 samples less often than asked, more so under load: the profile itself says how often it did
        const effectiveIntervalUs =
          samples > 0 ? Math.round((profile.endTime - profile.startTime) / samples) : undefined
        return jsonRecording(profile, {
          samples,
          ...(effectiveIntervalUs !== undefined && { effectiveIntervalUs }),
        })
      } finally {
        session.dispose()
      }
    },
    discard: () => session.dispose(),
  }
}
