/**
 * The `rss` role: peak RSS over a stretch before a CPU capture, then over the capture until it is stored, in the
 * service under its paced load. With `capture: false` it is the twin that runs the same stretches without
 * capturing, so that the benchmark can take away the growth the workload causes by itself.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { defaultCpuIntervalUs } from '@tripwire/core'
import { controllerFor, cpuCapture } from '../captures.js'
import { MB, RssWatch, type RssPeak } from '../memory.js'
import type { RssOutcome, RssPlan, StopSample } from '../protocol.js'
import { progress } from '../report.js'
import { Service } from '../service.js'

export async function runRss(plan: RssPlan): Promise<RssOutcome> {
  const service = new Service(plan.ratePerSec)
  const controller = controllerFor(plan.dir)
  try {
    await service.start()
    progress(`load ${plan.ratePerSec} req/s; warm-up ${plan.warmupMs / 1000} s`)
    await sleep(plan.warmupMs)

    const beforeWatch = new RssWatch(plan.sampleEveryMs)
    await sleep(plan.beforeMs)
    const before = beforeWatch.end()
    progress(`before: peak RSS ${(before.peak / MB).toFixed(1)} MB over ${plan.beforeMs / 1000} s`)

    const duringWatch = new RssWatch(plan.sampleEveryMs)
    let capture: StopSample | undefined
    let recording: RssPeak | undefined
    if (plan.capture) {
      capture = await cpuCapture(
        controller,
        plan.dir,
        plan.captureMs,
        defaultCpuIntervalUs(plan.captureMs),
        () => {
          recording = duringWatch.peak()
        },
      )
    } else {
      await sleep(plan.captureMs)
    }
    const during = duringWatch.end()
    progress(
      `${plan.capture ? 'capture' : 'no capture'}: peak RSS ${(during.peak / MB).toFixed(1)} MB over ` +
        `${plan.captureMs / 1000} s${plan.capture ? ' and the store' : ''}`,
    )

    return {
      role: 'rss',
      beforePeakMb: before.peak / MB,
      duringPeakMb: during.peak / MB,
      recordingPeakMb: (recording ?? during).peak / MB,
      highWaterMark: before.highWaterMark && during.highWaterMark,
      capture,
      load: service.stats(),
    }
  } finally {
    await service.stop()
    await controller.close()
  }
}
