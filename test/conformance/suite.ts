/**
 * The behaviours every adapter must show, run unchanged against each framework and major version. Real
 * servers on 127.0.0.1, real HTTP, real tokens, real captures on disk. No case here knows which adapter it
 * drives: a difference belongs in core or in the adapter, never in the suite.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import {
  CAPTURE_ID_PATTERN,
  LocalDiskSink,
  summarizeCpuProfile,
  type CaptureMeta,
  type CpuProfile,
  type TripwireController,
  type TripwireOptions,
} from '@tripwire/core'
import type { ConformanceApp, CreateApp, headersResponse } from './app-contract.js'
import { get, getAndGiveUp, send, type HttpResponse } from './http.js'
import {
  adminToken,
  HMAC_KID,
  ISSUER,
  publicKeyAsHmacSecretToken,
  RSA_KID,
  RSA_PUBLIC_PEM,
  SECRET,
  SERVICE,
  sign,
  signRs256,
  triggerToken,
  unsignedToken,
} from './tokens.js'

const PREFIX = '/_tripwire'
/**
 * The route's hot code (test/conformance/app-contract.ts): conformanceHotPath and its only caller. Once the
 * caller is hot, V8 may compile the two together and the profile then names only workResponse (seen in
 * roughly one run in five), so the time of either counts.
 */
const HOT_FUNCTIONS = new Set(['conformanceHotPath', 'workResponse'])
const MAX_DURATION_MS = 5000

function suiteOptions(dir: string): TripwireOptions {
  return {
    service: SERVICE,
    keys: [
      { kid: HMAC_KID, secret: SECRET },
      { kid: RSA_KID, publicKey: RSA_PUBLIC_PEM },
    ],
    token: { issuers: [ISSUER] },
    sink: new LocalDiskSink({ dir }),
    limits: { maxDurationMs: MAX_DURATION_MS, capturesPerHour: 3600, cooldownMs: 0 },
    admin: { prefix: PREFIX, bodyLimitBytes: 4096 },
  }
}

const bearer = (scope?: string) => ({ authorization: `Bearer ${adminToken(scope)}` })
const trigger = (token: string) => ({ 'x-trigger-profile': token })

export function defineConformanceSuite(adapterName: string, createApp: CreateApp): void {
  describe(`conformance: ${adapterName}`, () => {
    let app: ConformanceApp
    let controller: TripwireController
    let dir: string

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tripwire-conformance-'))
      app = await createApp(suiteOptions(dir))
      controller = app.controller
    })
    after(async () => {
      await app.close()
      await controller.close()
      await rm(dir, { recursive: true, force: true })
    })

    /** The stored metadata once the capture has ended and reached the sink. */
    async function stored(id: string): Promise<CaptureMeta> {
      const deadline = performance.now() + 10_000
      while (performance.now() < deadline) {
        const meta = await controller.find(id)
        if (meta !== undefined && meta.status !== 'running') return meta
        await sleep(20)
      }
      assert.fail(`capture ${id} was not stored within 10 s`)
    }

    async function storedProfile(id: string): Promise<{ meta: CaptureMeta; body: Buffer }> {
      const meta = await stored(id)
      const capture = await controller.get(id)
      assert.ok(capture, `capture ${id} is in the sink`)
      const chunks: Buffer[] = []
      for await (const chunk of capture.body) chunks.push(chunk as Buffer)
      return { meta, body: Buffer.concat(chunks) }
    }

    /** What a failed share assertion prints: the profile's top functions and its shape. */
    function describeProfile(body: Buffer): string {
      const summary = summarizeCpuProfile(JSON.parse(body.toString()) as CpuProfile)
      const top = summary.functions
        .slice(0, 5)
        .map((fn) => `${fn.functionName} ${(fn.selfShare * 100).toFixed(1)}%`)
      return `${summary.samples} samples over ${summary.sampledMs.toFixed(0)} ms, idle ${(summary.idleShare * 100).toFixed(1)}%; top: ${top.join(', ')}`
    }

    function hotFunctionShare(body: Buffer): number {
      const summary = summarizeCpuProfile(JSON.parse(body.toString()) as CpuProfile)
      return summary.functions
        .filter((fn) => HOT_FUNCTIONS.has(fn.functionName))
        .reduce((share, fn) => share + fn.selfShare, 0)
    }

    const started = () => controller.status().counters.started

    function assertServedNormally(response: HttpResponse, spent: number): void {
      assert.equal(response.status, 200)
      assert.deepEqual(response.json(), { ok: true, spent })
    }

    describe('signed header: accepted captures', () => {
      test('request mode spans the request; the stored CPU profile holds the route’s hot function', async () => {
        const response = await get(app.url, '/work/300', trigger(triggerToken({ sub: 'alice' })))
        assertServedNormally(response, 300)
        assert.equal(response.headers['x-profile-status'], 'accepted')
        const id = response.headers['x-profile-id'] as string
        assert.match(id, CAPTURE_ID_PATTERN)
        const { meta, body } = await storedProfile(id)
        assert.equal(meta.status, 'completed')
        assert.equal(meta.kind, 'cpu')
        assert.deepEqual(meta.trigger, { type: 'header', subject: 'alice', reason: meta.trigger.reason })
        assert.deepEqual(meta.request, { method: 'GET', route: '/work/:ms' })
        assert.equal(meta.requested.mode, 'request')
        assert.ok(
          hotFunctionShare(body) > 0.3,
          `the hot path's self share ${hotFunctionShare(body)}: ${describeProfile(body)}`,
        )
        assert.ok(!JSON.stringify(meta).includes('eyJ'), 'no token is stored in metadata')
      })

      test('the route template of a nested router or prefix is recorded, never the raw URL', async () => {
        const response = await get(app.url, '/api/items/42?secret=x', trigger(triggerToken()))
        assert.equal(response.status, 200)
        assert.deepEqual(response.json(), { id: '42' })
        const meta = await stored(response.headers['x-profile-id'] as string)
        assert.deepEqual(meta.request, { method: 'GET', route: '/api/items/:id' })
        assert.ok(!JSON.stringify(meta).includes('secret=x'))
      })

      test('window mode starts a capture of dur ms and the request proceeds at once', async () => {
        const begun = performance.now()
        const response = await get(app.url, '/health', trigger(triggerToken({ mode: 'window', dur: 600 })))
        assert.equal(response.status, 200)
        assert.equal(response.text, 'ok')
        assert.ok(performance.now() - begun < 500, 'the request did not wait for the window')
        assert.equal(response.headers['x-profile-status'], 'accepted')
        const id = response.headers['x-profile-id'] as string
        for (let i = 0; i < 3; i++) assertServedNormally(await get(app.url, '/work/100'), 100)
        const { meta, body } = await storedProfile(id)
        assert.equal(meta.status, 'completed')
        assert.deepEqual(meta.requested, { durationMs: 600, mode: 'window', samplingIntervalUs: 1000 })
        assert.ok(meta.durationMs! >= 580, `window ran ${meta.durationMs} ms`)
        assert.ok(
          hotFunctionShare(body) > 0.2,
          `the hot path's self share ${hotFunctionShare(body)}: ${describeProfile(body)}`,
        )
      })

      test('a heap token captures a sampling heap profile of the request', async () => {
        const response = await get(app.url, '/work/50', trigger(triggerToken({ kind: 'heap' })))
        assertServedNormally(response, 50)
        const { meta, body } = await storedProfile(response.headers['x-profile-id'] as string)
        assert.equal(meta.kind, 'heap')
        assert.equal(meta.fileName.endsWith('.heapprofile'), true)
        assert.ok((JSON.parse(body.toString()) as { head?: unknown }).head, 'a V8 sampling heap profile')
      })

      test('x-profile-id is sent with the headers, before a streamed body', async () => {
        const response = await fetch(`${app.url}/stream`, { headers: trigger(triggerToken()) })
        // fetch resolves when the headers arrive; the body is still being written
        assert.equal(response.headers.get('x-profile-status'), 'accepted')
        const id = response.headers.get('x-profile-id')
        assert.match(id ?? '', CAPTURE_ID_PATTERN)
        assert.equal(await response.text(), 'abc')
        assert.equal((await stored(id!)).status, 'completed')
      })
    })

    describe('signed header: bad input never breaks the request and starts nothing', () => {
      const now = () => Math.floor(Date.now() / 1000)
      const cases: { name: string; header?: () => string; status?: string }[] = [
        { name: 'no header' },
        { name: 'an empty header', header: () => '' },
        { name: 'garbage', header: () => 'not-a-token' },
        { name: 'a 9 KiB header', header: () => `${triggerToken()}${'A'.repeat(9 * 1024)}` },
        { name: 'alg none', header: () => unsignedToken({ scope: 'profiles:trigger', jti: 'none-1' }) },
        {
          name: 'the wrong secret',
          header: () => sign({ scope: 'profiles:trigger', jti: 'w1' }, { secret: 'x'.repeat(40) }),
        },
        {
          name: 'an RS256 token against an HMAC key',
          header: () => signRs256({ scope: 'profiles:trigger', jti: 'r1' }, HMAC_KID),
        },
        {
          name: 'an HS256 token signed with the RSA public key (algorithm confusion)',
          header: () => publicKeyAsHmacSecretToken({ scope: 'profiles:trigger', jti: 'c1' }),
        },
        { name: 'an expired token', header: () => triggerToken({ iat: now() - 600, exp: now() - 120 }) },
        { name: 'nbf in the future', header: () => triggerToken({ nbf: now() + 600 }) },
        { name: 'a lifetime over the maximum', header: () => triggerToken({ exp: now() + 3600 }) },
        { name: 'no exp', header: () => triggerToken({ exp: undefined }) },
        { name: 'no jti', header: () => triggerToken({ jti: undefined }) },
        { name: 'the wrong aud', header: () => triggerToken({ aud: 'billing' }) },
        { name: 'the wrong iss', header: () => triggerToken({ iss: 'someone-else' }) },
        {
          name: 'an admin scope instead of profiles:trigger',
          header: () => triggerToken({ scope: 'profiles:read profiles:write' }),
        },
        {
          name: 'an unknown kid',
          header: () => sign({ scope: 'profiles:trigger', jti: 'k9' }, { kid: 'k9' }),
        },
        { name: 'an unknown kind', header: () => triggerToken({ kind: 'gpu' }) },
        {
          name: 'a heap snapshot while they are disabled',
          header: () => triggerToken({ kind: 'heapsnapshot' }),
        },
        { name: 'an unknown mode', header: () => triggerToken({ mode: 'forever' }) },
        { name: 'dur negative', header: () => triggerToken({ mode: 'window', dur: -5 }) },
        { name: 'dur zero', header: () => triggerToken({ mode: 'window', dur: 0 }) },
        { name: 'dur not a number', header: () => triggerToken({ mode: 'window', dur: '500' }) },
        {
          name: 'dur over the cap',
          header: () => triggerToken({ mode: 'window', dur: MAX_DURATION_MS + 1 }),
        },
        { name: 'a window without dur', header: () => triggerToken({ mode: 'window' }) },
        { name: 'dur in request mode', header: () => triggerToken({ dur: 100 }) },
      ]
      for (const { name, header, status = 'rejected' } of cases) {
        test(name, async () => {
          const before = started()
          const response = await get(app.url, '/work/20', header ? trigger(header()) : {})
          assertServedNormally(response, 20)
          assert.equal(response.headers['x-profile-status'], header ? status : undefined)
          assert.equal(response.headers['x-profile-id'], undefined)
          assert.equal(started(), before, 'no capture started')
        })
      }

      test('a forged token sent again is refused again, and counted each time', async () => {
        const forged = sign({ scope: 'profiles:trigger', jti: 'forged-again' }, { secret: 'y'.repeat(40) })
        const before = started()
        const counted = () => controller.status().trigger.rejected['bad-signature'] ?? 0
        const countedBefore = counted()
        for (let attempt = 0; attempt < 3; attempt++) {
          const response = await get(app.url, '/work/20', trigger(forged))
          assertServedNormally(response, 20)
          assert.equal(response.headers['x-profile-status'], 'rejected')
        }
        assert.equal(counted(), countedBefore + 3)
        assert.equal(started(), before)
        // a genuine token is still accepted after the forged ones
        const genuine = await get(app.url, '/work/20', trigger(triggerToken()))
        assert.equal(genuine.headers['x-profile-status'], 'accepted')
        await stored(genuine.headers['x-profile-id'] as string)
      })

      test('a replayed jti is refused', async () => {
        const token = triggerToken()
        const first = await get(app.url, '/work/20', trigger(token))
        assert.equal(first.headers['x-profile-status'], 'accepted')
        await stored(first.headers['x-profile-id'] as string)
        const before = started()
        const replay = await get(app.url, '/work/20', trigger(token))
        assertServedNormally(replay, 20)
        assert.equal(replay.headers['x-profile-status'], 'rejected')
        assert.equal(started(), before)
        assert.equal(controller.status().trigger.rejected.replayed, 1)
      })

      test('a jti stays single-use for as long as its token is accepted, clock tolerance included', async () => {
        const now = Math.floor(Date.now() / 1000)
        // expired 5 s ago, still inside the 30 s tolerance: accepted once, and only once
        const token = triggerToken({ iat: now - 60, exp: now - 5 })
        const first = await get(app.url, '/work/20', trigger(token))
        assert.equal(first.headers['x-profile-status'], 'accepted')
        await stored(first.headers['x-profile-id'] as string)
        const replay = await get(app.url, '/work/20', trigger(token))
        assertServedNormally(replay, 20)
        assert.equal(replay.headers['x-profile-status'], 'rejected')
      })

      test('of concurrent triggers exactly one is accepted; the rest are busy and served normally', async () => {
        // /slow waits without blocking, so all ten requests are in flight at once
        const responses = await Promise.all(
          Array.from({ length: 10 }, () => get(app.url, '/slow/300', trigger(triggerToken()))),
        )
        for (const response of responses) {
          assert.equal(response.status, 200)
          assert.deepEqual(response.json(), { ok: true, waited: 300 })
        }
        const outcomes = responses.map((response) => response.headers['x-profile-status'])
        assert.equal(outcomes.filter((outcome) => outcome === 'accepted').length, 1, outcomes.join(','))
        assert.equal(outcomes.filter((outcome) => outcome === 'busy').length, 9, outcomes.join(','))
        const winner = responses.find((response) => response.headers['x-profile-status'] === 'accepted')!
        assert.equal((await stored(winner.headers['x-profile-id'] as string)).status, 'completed')
      })

      test('the application never sees the token, valid or not', async () => {
        // a header after the token's: taking the token out of the raw list must leave the rest readable
        const sent = (token: string) => ({ ...trigger(token), 'x-after-token': 'kept' })
        const expectUnseen = (response: HttpResponse) => {
          assert.equal(response.status, 200, response.text)
          const seen = response.json<ReturnType<typeof headersResponse>>()
          assert.equal(seen.triggerHeader, null)
          assert.equal(seen.inRawHeaders, false)
          assert.equal(seen.distinct['x-trigger-profile'], undefined)
          assert.deepEqual(seen.distinct['x-after-token'], ['kept'])
          assert.ok(seen.distinct.host !== undefined, 'every other header stays in headersDistinct')
        }
        const rejected = await get(app.url, '/headers', sent('garbage-token'))
        expectUnseen(rejected)
        assert.ok(
          (controller.status().trigger.rejected.malformed ?? 0) >= 1,
          'refusals are counted by reason',
        )
        const accepted = await get(app.url, '/headers', sent(triggerToken()))
        expectUnseen(accepted)
        await stored(accepted.headers['x-profile-id'] as string)
      })
    })

    describe('admin API through the adapter', () => {
      test('every route: status, start, read, stop, download, links, list, delete', async () => {
        const status = await get(app.url, `${PREFIX}/status`, bearer('profiles:read'))
        assert.equal(status.status, 200)
        assert.equal(status.json<{ service: string }>().service, SERVICE)

        const body = JSON.stringify({ kind: 'cpu', durationMs: 4000, labels: { ticket: 'INC-1' } })
        const createdResponse = await send(app.url, 'POST', `${PREFIX}/captures`, {
          headers: { ...bearer('profiles:write'), 'content-type': 'application/json' },
          body,
        })
        assert.equal(createdResponse.status, 202, createdResponse.text)
        const created = createdResponse.json<CaptureMeta>()
        assert.equal(createdResponse.headers.location, `${PREFIX}/captures/${created.id}`)
        assert.equal(created.trigger.type, 'admin')
        assert.deepEqual(created.labels, { ticket: 'INC-1' })

        const running = await get(app.url, `${PREFIX}/captures/${created.id}`, bearer('profiles:read'))
        assert.equal(running.json<CaptureMeta>().status, 'running')
        assertServedNormally(await get(app.url, '/work/100'), 100)

        const stop = await send(app.url, 'POST', `${PREFIX}/captures/${created.id}/stop`, {
          headers: { ...bearer('profiles:write'), 'content-type': 'application/json' },
        })
        assert.equal(stop.status, 200)
        const stopped = stop.json<CaptureMeta>()
        assert.equal(stopped.status, 'completed')
        assert.ok(stopped.durationMs! < 4000)

        const meta = await get(app.url, `${PREFIX}/captures/${created.id}`, bearer('profiles:read'))
        const withLinks = meta.json<CaptureMeta & { links: { profile: string } }>()
        assert.equal(withLinks.status, 'completed')

        const download = await get(
          app.url,
          `${PREFIX}/captures/${created.id}/profile`,
          bearer('profiles:read'),
        )
        assert.equal(download.status, 200)
        assert.equal(
          download.headers['content-disposition'],
          `attachment; filename="${created.id}.cpuprofile"`,
        )
        assert.equal(download.body.length, stopped.bytes)
        assert.equal(createHash('sha256').update(download.body).digest('hex'), stopped.sha256)
        assert.ok(hotFunctionShare(download.body) > 0, 'the download is the profile')

        const viaLink = await get(app.url, withLinks.links.profile)
        assert.equal(viaLink.status, 200, 'a signed link needs no header')
        assert.deepEqual(viaLink.body, download.body)

        const pprof = await get(
          app.url,
          `${PREFIX}/captures/${created.id}/profile?format=pprof`,
          bearer('profiles:read'),
        )
        assert.equal(pprof.status, 200, pprof.text.slice(0, 200))
        assert.equal(pprof.headers['content-type'], 'application/octet-stream')
        assert.equal(pprof.headers['content-disposition'], `attachment; filename="${created.id}.pb.gz"`)
        const decoded = Profile.decode(gunzipSync(pprof.body))
        const names = decoded.function.map((fn) => decoded.stringTable.strings[Number(fn.name)])
        assert.ok(
          names.some((name) => name !== undefined && HOT_FUNCTIONS.has(name)),
          'the pprof names the hot path',
        )

        const list = await get(app.url, `${PREFIX}/captures?limit=100&trigger=admin`, bearer('profiles:read'))
        assert.equal(list.status, 200)
        assert.ok(list.json<{ items: CaptureMeta[] }>().items.some((item) => item.id === created.id))

        const flamegraph = await get(
          app.url,
          `${PREFIX}/captures/${created.id}/flamegraph`,
          bearer('profiles:read'),
        )
        assert.equal(flamegraph.status, 200)
        assert.match(flamegraph.headers['content-type'] as string, /^text\/html/)

        const deleted = await send(app.url, 'DELETE', `${PREFIX}/captures/${created.id}`, {
          headers: bearer('profiles:write'),
        })
        assert.equal(deleted.status, 204)
        const gone = await get(app.url, `${PREFIX}/captures/${created.id}`, bearer('profiles:read'))
        assert.equal(gone.status, 404)
        assert.equal(gone.json<{ error: { code: string } }>().error.code, 'ERR_TRIPWIRE_NOT_FOUND')
      })

      const errorCode = (response: HttpResponse) => response.json<{ error: { code: string } }>().error.code

      const badIds = [
        '../../../etc/passwd',
        '..%2F..%2Fetc%2Fpasswd',
        '20261121T223301Z-cpu-3f9a1c0e%2F..%2F..%2Fx',
        '%2e%2e',
        'x'.repeat(10_000),
      ]
      for (const id of badIds) {
        test(`admin id ${JSON.stringify(id.slice(0, 40))} is refused with 400`, async () => {
          const response = await get(app.url, `${PREFIX}/captures/${id}`, bearer('profiles:read'))
          assert.equal(response.status, 400, response.text)
          assert.equal(errorCode(response), 'ERR_TRIPWIRE_INVALID_ID')
        })
      }

      test('bad JSON, oversized bodies and out-of-range fields are refused with the right status', async () => {
        const post = (payload: string, contentType = 'application/json') =>
          send(app.url, 'POST', `${PREFIX}/captures`, {
            headers: { ...bearer('profiles:write'), 'content-type': contentType },
            body: payload,
          })
        const badJson = await post('{"kind": ')
        assert.equal(badJson.status, 400)
        assert.equal(errorCode(badJson), 'ERR_TRIPWIRE_INVALID_REQUEST')
        const oversized = await post(JSON.stringify({ kind: 'cpu', labels: { big: 'x'.repeat(5000) } }))
        assert.equal(oversized.status, 413)
        assert.equal(errorCode(oversized), 'ERR_TRIPWIRE_BODY_TOO_LARGE')
        for (const durationMs of [0, -1, 'x', MAX_DURATION_MS + 1]) {
          const response = await post(JSON.stringify({ durationMs }))
          assert.equal(response.status, 400, `durationMs ${String(durationMs)}`)
          assert.equal(errorCode(response), 'ERR_TRIPWIRE_INVALID_REQUEST')
        }
        assertServedNormally(await get(app.url, '/work/10'), 10)
      })

      test('missing, expired, wrong-scope and trigger bearer tokens are refused', async () => {
        const before = started()
        const url = `${PREFIX}/captures`
        const missing = await get(app.url, url)
        assert.equal(missing.status, 401)
        assert.equal(missing.headers['www-authenticate'], 'Bearer')
        const now = Math.floor(Date.now() / 1000)
        const expired = await get(app.url, url, {
          authorization: `Bearer ${adminToken('profiles:read', { iat: now - 7200, exp: now - 3600 })}`,
        })
        assert.equal(expired.status, 401)
        const readOnly = await send(app.url, 'POST', url, { headers: bearer('profiles:read') })
        assert.equal(readOnly.status, 403)
        assert.equal(errorCode(readOnly), 'ERR_TRIPWIRE_FORBIDDEN')
        const triggerScope = await get(app.url, url, bearer('profiles:trigger'))
        assert.equal(triggerScope.status, 403)
        assert.equal(started(), before, 'nothing started')
      })
    })
  })

  describe(`conformance: ${adapterName}, automatic triggers`, () => {
    let app: ConformanceApp
    let controller: TripwireController
    let dir: string

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tripwire-conformance-slo-'))
      app = await createApp({
        ...suiteOptions(dir),
        slo: [
          {
            name: 'slow route',
            route: 'GET /slow/:ms',
            quantile: 0.99,
            thresholdMs: 100,
            windowMs: 5000,
            minSamples: 5,
            capture: { kind: 'cpu', durationMs: 200 },
            cooldownMs: 60_000,
          },
          {
            name: 'capped',
            route: 'GET /work/:ms',
            quantile: 0.5,
            thresholdMs: 30,
            windowMs: 5000,
            minSamples: 3,
            capture: { kind: 'cpu', durationMs: 100 },
            cooldownMs: 0,
            maxCaptures: { count: 2, perMs: 60_000 },
          },
          { name: 'fast route', route: 'GET /health', thresholdMs: 50, windowMs: 5000, minSamples: 5 },
          {
            name: 'given up',
            route: 'GET /slow/:ms',
            quantile: 0.99,
            thresholdMs: 250,
            windowMs: 5000,
            minSamples: 5,
            capture: { kind: 'cpu', durationMs: 100 },
          },
        ],
        triggers: { evaluateEveryMs: 100, maxTrackedRoutes: 4 },
      })
      controller = app.controller
    })
    after(async () => {
      await app.close()
      await controller.close()
      await rm(dir, { recursive: true, force: true })
    })

    const sloCaptures = async (rule: string) =>
      (await controller.list({ limit: 100 })).items.filter(
        (item) => item.trigger.type === 'slo' && item.trigger.subject === rule,
      )
    const rule = (name: string) => controller.status().rules.find((candidate) => candidate.name === name)!

    async function until(condition: () => Promise<boolean> | boolean, what: string): Promise<void> {
      const deadline = performance.now() + 10_000
      while (!(await condition())) {
        if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`)
        await sleep(25)
      }
    }

    test('a route made slow breaches its rule and exactly one capture is stored, with reason and route', async () => {
      for (let i = 0; i < 6; i++) {
        const response = await get(app.url, '/slow/150')
        assert.equal(response.status, 200)
      }
      // the evaluation timer (every 100 ms) finds the breach on its own
      await until(
        async () => (await sloCaptures('slow route')).length > 0 && controller.current() === undefined,
        'the SLO capture',
      )
      const [meta] = await sloCaptures('slow route')
      assert.match(meta!.trigger.reason, /^p99 1\d\dms > 100ms on GET \/slow\/:ms \(window 5s, n=\d+\)$/)
      assert.deepEqual(meta!.request, { method: 'GET', route: '/slow/:ms' })
      assert.equal(meta!.slo?.route, 'GET /slow/:ms')
      assert.equal(meta!.slo?.thresholdMs, 100)
      assert.ok(meta!.slo.observedMs > 100 && meta!.slo.samples >= 5, JSON.stringify(meta!.slo))
      assert.deepEqual(meta!.requested, { durationMs: 200, mode: 'window', samplingIntervalUs: 1000 })

      // the breach goes on: the rule cools down instead of firing again
      for (let i = 0; i < 3; i++) {
        await get(app.url, '/slow/150')
        await controller.evaluateTriggers()
      }
      assert.equal((await sloCaptures('slow route')).length, 1)
      assert.equal(rule('slow route').state, 'cooling-down')
      assert.equal(rule('slow route').fired, 1)
    })

    test('a rule caps its captures per window under a sustained breach', async () => {
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 3; i++) await get(app.url, '/work/40')
        await until(() => controller.current() === undefined, 'the running capture to end')
        await controller.evaluateTriggers()
        await until(() => controller.current() === undefined, 'the capture to end')
      }
      await until(() => controller.status().storing === 0, 'the captures to reach the sink')
      assert.equal((await sloCaptures('capped')).length, 2)
      assert.equal(rule('capped').state, 'exhausted')
      assert.equal(rule('capped').capturesLeft, 0)
    })

    test('a fast route never fires', async () => {
      for (let i = 0; i < 20; i++) assert.equal((await get(app.url, '/health')).status, 200)
      await controller.evaluateTriggers()
      assert.equal(rule('fast route').fired, 0)
      assert.equal(rule('fast route').breaching, false)
      assert.equal((await sloCaptures('fast route')).length, 0)
    })

    test('requests that hang until their clients give up breach a rule: a hang counts as slow', async () => {
      // 'slow route' (threshold 100 ms) on the same route has fired above and is cooling down. Each client
      // gives up 600 ms in: well past the rule's 250 ms even if the server saw the request late
      assert.equal(rule('given up').fired, 0, 'nothing before this test breached 250 ms')
      await Promise.all(Array.from({ length: 5 }, () => getAndGiveUp(app.url, '/slow/1500', 600)))
      await until(
        async () => (await sloCaptures('given up')).length > 0 && controller.current() === undefined,
        'the SLO capture',
      )
      const [meta] = await sloCaptures('given up')
      const slo = meta?.slo
      assert.ok(slo !== undefined, 'the capture says which rule it came from')
      // recorded when each client went away, not when the handler ended 1.5 s in
      assert.ok(slo.observedMs > 250 && slo.observedMs < 1400 && slo.samples >= 5, JSON.stringify(slo))
      assert.deepEqual(meta!.request, { method: 'GET', route: '/slow/:ms' })
    })

    test('distinct raw URLs and templates never grow the tracked routes past the cap', async () => {
      for (let i = 0; i < 30; i++) await get(app.url, `/api/items/${i}?q=${i}`)
      for (let i = 0; i < 30; i++) await get(app.url, `/no-such-path/${i}`)
      await get(app.url, '/headers')
      const routes = controller.status().routes
      assert.ok(
        routes.length <= 5,
        `tracked ${routes.length}: ${routes.map((route) => route.route).join(', ')}`,
      )
      assert.ok(
        routes.every((route) => !/\?|\/\d/.test(route.route)),
        'only templates, never raw URLs',
      )
      const items = routes.find((route) => route.route === 'GET /api/items/:id')
      if (items !== undefined) assert.equal(items.count, 30)
    })
  })
}
