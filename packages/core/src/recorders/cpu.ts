import { createHash } from 'node:crypto'
import { InspectorSession } from '../inspector-session.js'
import type { CpuProfile } from '../formats/v8-profiles.js'
import type { Recorder, Recording } from './recorder.js'

/**
 * Starts a CPU profile on a session of its own. The Profiler domain is enabled only while recording: while it
 * is enabled, the application's `console.profile()` calls would start profiles inside this session.
 */
export async function startCpuRecorder(samplingIntervalUs: number): Promise<Recorder> {
  const session = await InspectorSession.open()
  try {
    await session.post('Profiler.enable')
    // must come before start: V8 refuses to change the interval while recording
    await session.post('Profiler.setSamplingInterval', { interval: samplingIntervalUs })
    await session.post('Profiler.start')
  } catch (error) {
    session.dispose()
    throw error
  }
  return {
    async finish(): Promise<Recording> {
      try {
        const { profile } = await session.post<{ profile: CpuProfile }>('Profiler.stop')
        await session.post('Profiler.disable')
        const buffer = Buffer.from(JSON.stringify(profile))
        const samples = profile.samples?.length ?? 0
        return {
          body: { buffer },
          bytes: buffer.length,
          sha256: createHash('sha256').update(buffer).digest('hex'),
          sampling: {
            samples,
            ...(samples > 0 && {
              effectiveIntervalUs: Math.round((profile.endTime - profile.startTime) / samples),
            }),
          },
        }
      } finally {
        session.dispose()
      }
    },
    discard: () => session.dispose(),
  }
}
