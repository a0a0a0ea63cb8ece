/**
 * The `cpu` role: start latencies (CPU and heap sampling), stop → stored of CPU captures, and profile bytes by
 * sampling interval, all in the service under its paced load.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { defaultCpuIntervalUs } from '@tripwire/core'
import { assertStored, controllerFor, cpuCapture, timedStart } from '../captures.js'
import type { CpuOutcome, CpuPlan, IntervalSample, StopSample } from '../protocol.js'
import { progress } from '../report.js'
import { Service } from '../service.js'

export async function runCpu(plan: CpuPlan): Promise<CpuOutcome> {
  const service = new Service(plan.ratePerSec)
  const controller = controllerFor(plan.dir)
  try {
    await service.start()
    progress(`load ${plan.ratePerSec} req/s; warm-up ${plan.warmupMs / 1000} s`)
    await sleep(plan.warmupMs)

    const kinds = ['cpu', 'heap'] as const
    const coldStartMs = { cpu: 0, heap: 0 }
    const startMs = { cpu: [] as number[], heap: [] as number[] }
    // The first start of each kind opens the inspector for the first time in the process: reported apart
    for (const kind of kinds) {
      const { ms, stop } = await timedStart(controller, { kind })
      coldStartMs[kind] = ms
      await sleep(plan.startHoldMs)
      assertStored(await stop())
    }
    for (let round = 0; round < plan.startRounds; round++) {
      // Alternating which kind goes first, so neither always follows the other's store
      for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
        const { ms, stop } = await timedStart(controller, { kind })
        startMs[kind].push(ms)
        await sleep(plan.startHoldMs)
        assertStored(await stop())
      }
    }
    progress(`start latency: ${plan.startRounds} rounds of CPU and heap sampling done`)

    const stops: StopSample[] = []
    for (let round = 0; round < plan.stopRounds; round++) {
      // the interval a window of this length gets by default, which is what a trigger's capture runs at
      const sample = await cpuCapture(
        controller,
        plan.dir,
        plan.stopCaptureMs,
        defaultCpuIntervalUs(plan.stopCaptureMs),
      )
      stops.push(sample)
      progress(
        `${plan.stopCaptureMs / 1000} s CPU capture ${round + 1}/${plan.stopRounds}: ` +
          `stop → stored ${sample.stopToStoredMs.toFixed(1)} ms, ${Math.round(sample.bytes / 1024)} KB`,
      )
    }

    const intervals: IntervalSample[] = []
    for (const intervalUs of plan.intervalsUs) {
      const sample = await cpuCapture(controller, plan.dir, plan.intervalCaptureMs, intervalUs)
      intervals.push({ intervalUs, ...sample })
    }
    progress(`profile bytes by interval: ${plan.intervalsUs.join(', ')} µs done`)
    return { role: 'cpu', coldStartMs, startMs, stops, intervals, load: service.stats() }
  } finally {
    await service.stop()
    await controller.close()
  }
}
