/**
 * The `heapsnapshot` role: builds a heap of the planned size, takes one heap snapshot, and measures the
 * event-loop pause, the time to store it and the RSS it adds. Unlike the other roles it runs no service or load.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ErrorCodes, isTripwireError, type CaptureMeta } from '@tripwire/core'
import { assertStored, controllerFor, fileBytes } from '../captures.js'
import { GapWatch } from '../gap-watch.js'
import { highWaterMark, MB, resetHighWaterMark } from '../memory.js'
import type { SnapshotOutcome, SnapshotPlan } from '../protocol.js'
import { progress } from '../report.js'

/**
 * Live objects the snapshot walks: an in-memory cache of orders, each a small object with a flat string of
 * 200–600 bytes, an array and a number. Kept on globalThis so that nothing is collected before the snapshot.
 */
function buildHeap(targetBytes: number): number {
  const cache = new Map<string, object>()
  ;(globalThis as { benchOrderCache?: Map<string, object> }).benchOrderCache = cache
  const text = Buffer.alloc(4096, 'lorem ipsum dolor sit amet, consectetur adipiscing elit. ')
  // Bounded twice: by the heap reaching the target, and by a count no target of a few GB needs
  const maxOrders = 20_000_000
  let orders = 0
  while (process.memoryUsage().heapUsed < targetBytes && orders < maxOrders) {
    for (let k = 0; k < 1000; k++, orders++) {
      const length = 200 + (orders % 400)
      const start = (orders * 7) % 3000
      cache.set(`order:${orders}`, {
        id: orders,
        status: orders % 3 === 0 ? 'paid' : 'open',
        // latin1 decoding makes a flat, sequential string: one heap object of `length` bytes
        body: text.toString('latin1', start, start + length),
        lines: [orders, orders + 1, orders * 2, orders % 97],
        total: orders * 0.01,
      })
    }
  }
  return orders
}

export async function runHeapSnapshot(plan: SnapshotPlan): Promise<SnapshotOutcome> {
  const spoolDir = join(plan.dir, 'spool')
  await mkdir(spoolDir, { recursive: true })
  const controller = controllerFor(plan.dir, spoolDir)
  let gaps: GapWatch | undefined
  try {
    const cachedOrders = buildHeap(plan.heapMb * MB)
    // Garbage left by the build is not part of the heap the snapshot is about (--expose-gc, when given)
    ;(globalThis as { gc?: () => void }).gc?.()
    await sleep(200)
    const heapUsedMb = process.memoryUsage().heapUsed / MB
    progress(`heap built: ${heapUsedMb.toFixed(0)} MB used, ${cachedOrders} cached orders`)

    const highWaterMarkReset = resetHighWaterMark()
    const rssBefore = process.memoryUsage.rss()
    // While the snapshot blocks the event loop a 1 ms timer cannot tick: its longest gap is the pause
    gaps = new GapWatch()
    const started = performance.now()
    let meta: CaptureMeta
    try {
      const handle = await controller.start({ kind: 'heapsnapshot' })
      meta = await handle.done
    } catch (error) {
      // The headroom check is the controller doing its job on a small machine: a result, not a failure
      if (!isTripwireError(error) || error.code !== ErrorCodes.INSUFFICIENT_MEMORY) throw error
      return { role: 'heapsnapshot', heapUsedMb, cachedOrders, refused: error.message }
    }
    const storedMs = performance.now() - started
    const pauseMs = gaps.end()
    const hwm = highWaterMarkReset ? highWaterMark() : undefined
    assertStored(meta)
    return {
      role: 'heapsnapshot',
      heapUsedMb,
      cachedOrders,
      pauseMs,
      storedMs,
      bytes: meta.bytes ?? 0,
      fileBytes: await fileBytes(plan.dir, meta),
      rssBeforeMb: rssBefore / MB,
      peakRssMb: Math.max(hwm ?? 0, process.memoryUsage.rss()) / MB,
      highWaterMark: hwm !== undefined,
    }
  } finally {
    gaps?.end()
    await controller.close()
  }
}
