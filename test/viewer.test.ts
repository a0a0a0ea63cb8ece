/**
 * The flame-graph viewer in a real browser: a real Express app on loopback takes real captures, and headless
 * Chromium opens the metadata's `links.flamegraph` as a plain tab would, with no Authorization header.
 * Needs Chromium at /usr/bin/chromium (or TRIPWIRE_CHROMIUM); nothing is downloaded at test time.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  createCaptureId,
  LocalDiskSink,
  summarizeCpuProfile,
  type CaptureKind,
  type CaptureMeta,
  type CaptureStatus,
  type CpuProfile,
  type TripwireController,
} from '@tripwire/core'
import { tripwire } from '@tripwire/express'
import express from 'express'
import { chromium, type Browser, type Page } from 'playwright-core'
import { adminToken, HMAC_KID, SECRET, SERVICE } from './conformance/tokens.js'

const CHROMIUM = process.env.TRIPWIRE_CHROMIUM ?? '/usr/bin/chromium'
const PREFIX = '/_tripwire'
const HOT = 'tripwireViewerHotSpot'
const ALLOCATOR = 'tripwireViewerAllocator'
/** Markup, a placeholder and a replacement pattern: the page must show all of it as text, run none of it. */
const HOSTILE_REASON = '</script><script>alert(1)</script> {{config}} $& <!--'
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; frame-ancestors 'none'"
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Burns CPU for `ms`, under a name nothing else in the process has. */
function tripwireViewerHotSpot(ms: number): number {
  const end = performance.now() + ms
  let x = 0
  while (performance.now() < end) for (let i = 0; i < 20_000; i++) x += Math.sqrt(i ^ x)
  return x
}

/** Allocations the heap profile must still see at its end: kept until the test lets go of them. */
const kept: unknown[] = []
function tripwireViewerAllocator(count: number): void {
  for (let i = 0; i < count; i++) kept.push({ index: i, payload: new Array(64).fill(i), label: `item-${i}` })
}

describe('the flame-graph viewer in headless Chromium', () => {
  let dir: string
  let server: Server
  let controller: TripwireController
  let sink: LocalDiskSink
  let origin: string
  let browser: Browser
  const bearer = { authorization: `Bearer ${adminToken()}` }

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set TRIPWIRE_CHROMIUM`,
    )
    dir = await mkdtemp(join(tmpdir(), 'tripwire-viewer-'))
    sink = new LocalDiskSink({ dir: join(dir, 'profiles') })
    const app = express()
    const middleware = tripwire({
      service: SERVICE,
      keys: [{ kid: HMAC_KID, secret: SECRET }],
      sink,
      limits: { cooldownMs: 0, capturesPerHour: 60 },
    })
    controller = middleware.tripwire
    app.use(middleware)
    app.get('/hot/:ms', (req, res) => void res.json({ x: tripwireViewerHotSpot(Number(req.params.ms)) }))
    app.get('/alloc', (_req, res) => {
      tripwireViewerAllocator(5_000)
      res.json({ kept: kept.length })
    })
    server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
  })

  after(async () => {
    await browser?.close()
    await controller?.close()
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    // the screenshots are kept on request, to look at them
    if (process.env.TRIPWIRE_KEEP_SCREENSHOTS === '1') console.log(`viewer screenshots kept in ${dir}`)
    else if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  /** Starts a capture through the admin API and keeps `load` running until it has been stored. */
  async function capture(
    body: Record<string, unknown>,
    load: () => Promise<unknown>,
  ): Promise<CaptureMeta & { links: { profile: string; flamegraph?: string } }> {
    const started = await fetch(`${origin}${PREFIX}/captures`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    assert.equal(started.status, 202, await started.clone().text())
    const { id } = (await started.json()) as CaptureMeta
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const meta = (await (await fetch(`${origin}${PREFIX}/captures/${id}`, { headers: bearer })).json()) as
        (CaptureMeta & { links?: { profile: string; flamegraph?: string } }) | undefined
      if (meta?.links !== undefined) return meta as CaptureMeta & { links: { profile: string } }
      assert.notEqual(meta?.status, 'failed', JSON.stringify(meta))
      if (meta?.status === 'running') await load()
      else await sleep(20)
    }
    throw new Error(`capture ${id} was not stored in time`)
  }

  /** A page that records every request it makes and every error it reports. */
  async function openPage(): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    const requests: string[] = []
    const errors: string[] = []
    page.on('request', (request) => requests.push(request.url()))
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text())
    })
    page.on('pageerror', (error) => errors.push(error.message))
    page.on('dialog', (dialog) => {
      errors.push(`a dialog opened: ${dialog.message()}`)
      void dialog.dismiss()
    })
    return { page, requests, errors }
  }

  function assertOnlyLoopback(requests: string[]): void {
    assert.ok(requests.length >= 4, `page, script, stylesheet and profile at least: ${requests.join(', ')}`)
    for (const url of requests) {
      assert.ok(url.startsWith(`${origin}/`) || url.startsWith('data:'), `a request left loopback: ${url}`)
    }
  }

  async function assertPng(path: string): Promise<void> {
    const bytes = await readFile(path)
    assert.ok(bytes.length > 1000, `${path} is ${bytes.length} bytes`)
    assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE, `${path} is not a PNG`)
  }

  /** The widest frame of a function: a function can appear under more than one stack. */
  async function widestFrame(page: Page, name: string) {
    const frames = page.locator(`#graph .frame[data-name="${name}"]`)
    await frames.first().waitFor({ state: 'visible', timeout: 15_000 })
    const widths: number[] = []
    for (const frame of await frames.all()) widths.push((await frame.boundingBox())?.width ?? 0)
    return frames.nth(widths.indexOf(Math.max(...widths)))
  }

  test('a CPU capture: the hot function is visible, hoverable, searchable and zoomable', async () => {
    const meta = await capture({ kind: 'cpu', durationMs: 1500, reason: HOSTILE_REASON }, () =>
      fetch(`${origin}/hot/40`).then((response) => response.text()),
    )
    assert.ok(meta.links.flamegraph, 'the metadata links to the viewer')
    assert.match(meta.links.flamegraph, new RegExp(`^${PREFIX}/captures/${meta.id}/flamegraph\\?token=`))

    const { page, requests, errors } = await openPage()
    const response = await page.goto(`${origin}${meta.links.flamegraph}`)
    assert.equal(response?.status(), 200)
    const headers = response.headers()
    assert.equal(headers['content-security-policy'], CSP)
    assert.equal(headers['x-content-type-options'], 'nosniff')
    assert.equal(headers['cache-control'], 'no-store')

    const hot = await widestFrame(page, HOT)
    assert.ok(await hot.isVisible())
    const box = await hot.boundingBox()
    assert.ok(box !== null && box.width > 50, `the hot frame is ${box?.width}px wide`)
    assert.match((await hot.getAttribute('title')) ?? '', /self [\d.]+% .* total [\d.]+%/)

    await hot.hover()
    const tooltip = page.locator('#tooltip')
    await tooltip.waitFor({ state: 'visible' })
    const tip = await tooltip.innerText()
    assert.match(tip, new RegExp(HOT))
    assert.match(tip, /self [\d.]+% \(.+ms\) · total [\d.]+% \(.+ms\)/)
    assert.match(tip, /viewer\.test\.ts:\d+/, 'the tooltip names the file and line')

    // the top table agrees with the CLI's numbers (core's cpu-summary) for the same profile
    const profile = (await (await fetch(`${origin}${meta.links.profile}`)).json()) as CpuProfile
    const summary = summarizeCpuProfile(profile).functions.find((fn) => fn.functionName === HOT)
    assert.ok(summary !== undefined)
    const row = page.locator(`#top tr[data-name="${HOT}"]`).first()
    const selfText = await row.locator('td').nth(1).innerText()
    assert.ok(
      Math.abs(parseFloat(selfText) - summary.selfShare * 100) < 0.1,
      `table ${selfText} vs summary ${(summary.selfShare * 100).toFixed(2)}%`,
    )
    assert.ok(summary.selfShare > 0.2, `the hot function is ${summary.selfShare} of the profile`)

    // the capture's reason is shown as text; none of it ran or broke the page
    assert.ok((await page.locator('#summary').innerText()).includes(HOSTILE_REASON))
    assert.match(await page.title(), new RegExp(meta.id))

    await page.locator('#search').fill(HOT)
    const share = await page.locator('#match-share').innerText()
    const matched = /matched ([\d.]+)% of/.exec(share)
    assert.ok(matched !== null, share)
    assert.ok(Number(matched[1]) >= summary.totalShare * 100 - 0.1, `${share} vs ${summary.totalShare}`)
    assert.ok((await page.locator('#graph .frame.match').count()) >= 1)

    await hot.click()
    const crumbs = page.locator('#breadcrumb button')
    assert.equal(await crumbs.last().innerText(), HOT)
    const zoomed = await widestFrame(page, HOT)
    const graphWidth = (await page.locator('#graph').boundingBox())?.width ?? 0
    const zoomedWidth = (await zoomed.boundingBox())?.width ?? 0
    assert.ok(
      graphWidth > 0 && Math.abs(zoomedWidth - graphWidth) <= 2,
      `zoomed: ${zoomedWidth} of ${graphWidth}px`,
    )

    await page.locator('#reset').click()
    assert.equal(await crumbs.count(), 1)
    const path = join(dir, 'cpu-flamegraph.png')
    await page.screenshot({ path, fullPage: true })
    await assertPng(path)

    assertOnlyLoopback(requests)
    assert.deepEqual(errors, [])
    await page.close()
  })

  test('a heap capture renders, with the allocating function in it', async () => {
    const meta = await capture({ kind: 'heap', durationMs: 800 }, () =>
      fetch(`${origin}/alloc`).then(() => sleep(50)),
    )
    assert.ok(meta.links.flamegraph)
    const { page, requests, errors } = await openPage()
    assert.equal((await page.goto(`${origin}${meta.links.flamegraph}`))?.status(), 200)
    const allocator = await widestFrame(page, ALLOCATOR)
    await allocator.hover()
    assert.match(await page.locator('#tooltip').innerText(), /self [\d.]+% \(.+B\) · total [\d.]+%/)
    assert.match(await page.locator('#summary').innerText(), /sampled, live at the end/)
    assert.equal(await page.locator('#top-unit').innerText(), 'Self bytes')
    const path = join(dir, 'heap-flamegraph.png')
    await page.screenshot({ path, fullPage: true })
    await assertPng(path)
    assertOnlyLoopback(requests)
    assert.deepEqual(errors, [])
    await page.close()
    kept.length = 0
  })

  test('the page and its files need credentials; a link opens them for its own capture only', async () => {
    const meta = await capture({ kind: 'cpu', durationMs: 100 }, () => sleep(20))
    const other = await capture({ kind: 'cpu', durationMs: 100 }, () => sleep(20))
    const token = new URL(meta.links.flamegraph!, origin).searchParams.get('token')!
    const base = `${origin}${PREFIX}/captures/${meta.id}/flamegraph`

    for (const path of ['', '/flamegraph.js', '/flamegraph.css']) {
      assert.equal((await fetch(`${base}${path}`)).status, 401, `${path} without credentials`)
      const otherBase = `${origin}${PREFIX}/captures/${other.id}/flamegraph`
      assert.equal((await fetch(`${otherBase}${path}?token=${token}`)).status, 403, `${path} of another`)
    }
    const script = await fetch(`${base}/flamegraph.js?token=${token}`)
    assert.equal(script.status, 200)
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8')
    assert.equal(script.headers.get('x-content-type-options'), 'nosniff')
    const stylesheet = await fetch(`${base}/flamegraph.css`, { headers: bearer })
    assert.equal(stylesheet.headers.get('content-type'), 'text/css; charset=utf-8')
    assert.equal((await fetch(`${base}/other.js`, { headers: bearer })).status, 404)

    // a page opened through a link hands out links of its own that work, for the same capture
    const html = await (await fetch(`${base}?token=${token}`)).text()
    const profileUrl = /"profileUrl":"([^"]+)"/.exec(html)?.[1]
    assert.ok(profileUrl?.startsWith(`${PREFIX}/captures/${meta.id}/profile?token=`), html)
    assert.equal((await fetch(`${origin}${profileUrl}`)).status, 200)
    assert.ok(!html.includes('<script>alert'), 'no markup from a capture reaches the page')
  })

  test('running, failed and heap-snapshot captures are clear JSON errors', async () => {
    const running = await fetch(`${origin}${PREFIX}/captures`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'cpu', durationMs: 10_000 }),
    })
    const { id } = (await running.json()) as CaptureMeta
    try {
      await expectError(`${PREFIX}/captures/${id}/flamegraph`, 409, /still running/)
    } finally {
      await controller.stop(id)
    }

    const failed = createCaptureId('cpu')
    await sink.put(storedMeta(failed, 'cpu', 'failed'), Buffer.alloc(0))
    await expectError(`${PREFIX}/captures/${failed}/flamegraph`, 409, /failed/)

    const snapshot = createCaptureId('heapsnapshot')
    await sink.put(storedMeta(snapshot, 'heapsnapshot', 'completed'), Buffer.from('{}'))
    await expectError(`${PREFIX}/captures/${snapshot}/flamegraph`, 406, /heap snapshot/)
    const snapshotMeta = (await (
      await fetch(`${origin}${PREFIX}/captures/${snapshot}`, { headers: bearer })
    ).json()) as { links: Record<string, string> }
    assert.deepEqual(Object.keys(snapshotMeta.links), ['profile'], 'no viewer link for a heap snapshot')

    await expectError(`${PREFIX}/captures/${createCaptureId('cpu')}/flamegraph`, 404, /no capture/)
  })

  async function expectError(path: string, status: number, message: RegExp): Promise<void> {
    const response = await fetch(`${origin}${path}`, { headers: bearer })
    assert.equal(response.status, status)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    const body = (await response.json()) as { error: { code: string; message: string } }
    assert.match(body.error.message, message)
  }
})

/** Metadata as the controller would have stored it, for states that are slow or costly to produce. */
function storedMeta(id: string, kind: CaptureKind, status: CaptureStatus): CaptureMeta {
  const now = new Date().toISOString()
  return {
    id,
    kind,
    status,
    trigger: { type: 'api', reason: 'viewer test' },
    requested: { durationMs: 100, mode: 'window' },
    startedAt: now,
    endedAt: now,
    durationMs: 100,
    bytes: status === 'failed' ? 0 : 2,
    sha256: '0'.repeat(64),
    contentType: 'application/json',
    fileName: `${id}.${kind === 'cpu' ? 'cpuprofile' : 'heapsnapshot'}`,
    host: 'test',
    pid: process.pid,
    service: SERVICE,
    version: '0.0.0',
    runtime: { node: process.version, v8: process.versions.v8 },
    labels: {},
    ...(status === 'failed' && { error: { code: 'ERR_TRIPWIRE_PROFILE_TOO_LARGE', message: 'too large' } }),
  }
}
