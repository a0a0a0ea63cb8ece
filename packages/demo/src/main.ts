/**
 * The Tripwire demo: a small node:http service with a slow route. A CPU capture is taken through the core API
 * while the slow route is under load, stored on local disk, and its hottest functions are printed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, relative } from 'node:path'
import { readFile } from 'node:fs/promises'
import { createTripwire, LocalDiskSink, summarizeCpuProfile, type CpuProfile } from '@tripwire/core'

const REQUESTS = 40

// The slow route's work: a deliberately expensive shipping-quote search.
function quoteShipping(weightGrams: number, zones: number): number {
  let best = Number.POSITIVE_INFINITY
  for (let zone = 0; zone < zones; zone++) {
    let price = 0
    for (let step = 0; step < 20_000; step++) price += Math.sqrt(weightGrams * (step + 1)) / (zone + 1)
    best = Math.min(best, price)
  }
  return best
}

function handleCheckout(res: ServerResponse): void {
  const cart = Array.from({ length: 25 }, (_, i) => ({ sku: `sku-${i}`, grams: 100 + i * 7 }))
  const quotes = cart.map((item) => quoteShipping(item.grams, 12))
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ items: cart.length, shipping: Math.round(quotes.reduce((a, b) => a + b, 0)) }))
}

function route(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/checkout') return handleCheckout(res)
  if (req.url === '/health') return void res.end('ok')
  res.writeHead(404).end()
}

function step(text: string): void {
  console.log(`\n▶ ${text}`)
}

async function main(): Promise<void> {
  const dir = join(process.cwd(), 'profiles')
  const tripwire = createTripwire({
    service: 'demo-shop',
    version: '1.0.0',
    sink: new LocalDiskSink({ dir }),
  })

  const server = createServer(route)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  step(`A shop service listens on http://127.0.0.1:${port} (GET /checkout is slow)`)

  step('Start a CPU capture through the core API (it runs until stopped, capped at 30 s)')
  const capture = await tripwire.start({
    kind: 'cpu',
    mode: 'manual',
    trigger: { type: 'api', subject: 'demo', reason: 'GET /checkout feels slow' },
    labels: { scenario: 'demo' },
  })
  console.log(`  capture ${capture.id} is running`)

  step(`Send ${REQUESTS} requests to GET /checkout`)
  const started = performance.now()
  for (let i = 0; i < REQUESTS; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/checkout`)
    if (!response.ok) throw new Error(`GET /checkout answered ${response.status}`)
    await response.arrayBuffer()
  }
  console.log(`  ${REQUESTS} requests in ${Math.round(performance.now() - started)} ms`)

  step('Stop the capture; Tripwire stores it on local disk')
  const meta = await capture.stop()
  if (meta.status !== 'completed') throw new Error(`the capture ended ${meta.status}: ${meta.error?.message}`)
  const file = join(dir, meta.fileName)
  console.log(
    `  stored ${relative(process.cwd(), file)} (${meta.bytes} bytes, sha256 ${meta.sha256.slice(0, 12)}…)`,
  )
  console.log(`  metadata beside it: ${relative(process.cwd(), join(dir, `${meta.id}.json`))}`)
  console.log(
    `  ${meta.sampling?.samples} samples over ${meta.durationMs} ms, effective interval ${meta.sampling?.effectiveIntervalUs} µs`,
  )

  step('The hottest functions, by self time')
  const summary = summarizeCpuProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile)
  const percent = (share: number) => `${(share * 100).toFixed(1).padStart(5)} %`
  console.log(`  ${'self'.padStart(7)}  ${'total'.padStart(7)}  function`)
  for (const fn of summary.functions.slice(0, 5)) {
    const where =
      fn.url === ''
        ? ''
        : ` (${fn.url
            .replace(/^file:\/\//, '')
            .split('/')
            .slice(-2)
            .join('/')}:${fn.line})`
    console.log(`  ${percent(fn.selfShare)}  ${percent(fn.totalShare)}  ${fn.functionName}${where}`)
  }
  console.log(`  idle ${percent(summary.idleShare)}, garbage collection ${percent(summary.gcShare)}`)
  console.log('\nOpen the .cpuprofile in Chrome DevTools (Performance panel) or https://www.speedscope.app.')

  await tripwire.close()
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
