import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import jwt from 'jsonwebtoken'
import {
  createAdminHandler,
  createTripwire,
  LocalDiskSink,
  mintToken,
  type AuditEvent,
  type Logger,
  type TripwireController,
  type TripwireOptions,
} from '../src/index.js'

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long'
const SERVICE = 'checkout'

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-audit-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

function adminToken(sub: string): string {
  const exp = Math.floor(Date.now() / 1000) + 600
  return jwt.sign({ scope: 'profiles:read profiles:write', aud: SERVICE, exp, sub }, SECRET, {
    algorithm: 'HS256',
    keyid: 'k1',
  })
}

interface Harness {
  controller: TripwireController
  events: AuditEvent[]
  base: string
  close(): Promise<void>
}

/** A controller whose audit events are collected, behind a real HTTP server serving its admin API. */
async function serve(options: Partial<TripwireOptions> = {}): Promise<Harness> {
  const events: AuditEvent[] = []
  const controller = createTripwire({
    service: SERVICE,
    keys: [{ kid: 'k1', secret: SECRET }],
    sink: new LocalDiskSink({ dir: await mkdtemp(join(root, 'd-')) }),
    audit: (event) => events.push(event),
    limits: { cooldownMs: 0, capturesPerHour: 100 },
    ...options,
  })
  const handler = createAdminHandler(controller)
  const server: Server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    controller,
    events,
    base: `http://127.0.0.1:${port}/_tripwire`,
    close: async () => {
      await controller.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('the audit trail', () => {
  test('a capture allowed and one refused: who, why, which capture, which code', async () => {
    const h = await serve()
    try {
      const handle = await h.controller.start({
        durationMs: 50,
        trigger: { type: 'admin', subject: 'alice', reason: 'slow checkout' },
      })
      await assert.rejects(h.controller.start({ durationMs: 50, trigger: { type: 'api', reason: 'second' } }))
      await handle.done
      const triggers = h.events.filter((event) => event.type === 'trigger')
      assert.equal(triggers.length, 2)
      assert.deepEqual(
        { ...triggers[0], at: undefined },
        {
          type: 'trigger',
          outcome: 'allowed',
          trigger: 'admin',
          subject: 'alice',
          reason: 'slow checkout',
          kind: 'cpu',
          captureId: handle.id,
          at: undefined,
        },
      )
      assert.equal(triggers[1]?.outcome, 'refused')
      assert.equal(triggers[1]?.type === 'trigger' && triggers[1].code, 'ERR_TRIPWIRE_BUSY')
      assert.ok(!Number.isNaN(Date.parse(triggers[0]!.at)))
      assert.deepEqual(h.controller.status().audit.byType, { trigger: 2 })
    } finally {
      await h.close()
    }
  })

  test('downloads, views and deletes through the admin API name the caller; refusals carry the code', async () => {
    const h = await serve()
    try {
      const bearer = { authorization: `Bearer ${adminToken('bob')}` }
      const started = await fetch(`${h.base}/captures`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ durationMs: 50 }),
      })
      assert.equal(started.status, 202)
      const { id } = (await started.json()) as { id: string }
      await h.controller.get(id)
      while (h.controller.status().storing > 0 || h.controller.current() !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      assert.equal((await fetch(`${h.base}/captures/${id}/profile`, { headers: bearer })).status, 200)
      assert.equal((await fetch(`${h.base}/captures/${id}/flamegraph`, { headers: bearer })).status, 200)
      const pprof = await fetch(`${h.base}/captures/${id}/profile?format=pprof`, { headers: bearer })
      assert.equal(pprof.status, 200)
      await pprof.arrayBuffer()
      assert.equal(
        (await fetch(`${h.base}/captures/${id}`, { method: 'DELETE', headers: bearer })).status,
        204,
      )
      const gone = await fetch(`${h.base}/captures/${id}/profile`, { headers: bearer })
      assert.equal(gone.status, 404)

      const seen = h.events
        .filter((event) => event.type !== 'refusals')
        .map((event: AuditEvent) => {
          const { type, outcome } = event
          const extra =
            event.type === 'trigger'
              ? { trigger: event.trigger, subject: event.subject }
              : event.type === 'refusals'
                ? { source: event.source }
                : {
                    captureId: event.captureId,
                    subject: event.subject,
                    format: event.format,
                    code: event.code,
                  }
          return JSON.parse(JSON.stringify({ type, outcome, ...extra })) as Record<string, unknown>
        })
      assert.deepEqual(seen, [
        { type: 'trigger', outcome: 'allowed', trigger: 'admin', subject: 'bob' },
        { type: 'download', outcome: 'allowed', captureId: id, subject: 'bob', format: 'native' },
        { type: 'view', outcome: 'allowed', captureId: id, subject: 'bob' },
        { type: 'download', outcome: 'allowed', captureId: id, subject: 'bob', format: 'pprof' },
        { type: 'delete', outcome: 'allowed', captureId: id, subject: 'bob' },
        {
          type: 'download',
          outcome: 'refused',
          captureId: id,
          subject: 'bob',
          format: 'native',
          code: 'ERR_TRIPWIRE_NOT_FOUND',
        },
      ])
    } finally {
      await h.close()
    }
  })

  test('refusals without an identity are summed by reason into one event, not one each', async () => {
    const h = await serve()
    try {
      for (let i = 0; i < 5; i++) {
        assert.equal((await fetch(`${h.base}/status`)).status, 401)
        assert.equal(
          (await fetch(`${h.base}/status`, { headers: { authorization: 'Bearer not-a-token' } })).status,
          401,
        )
      }
      const forged = mintToken({
        key: 'another-secret-of-at-least-thirty-two-bytes',
        kid: 'k1',
        audience: SERVICE,
        scope: 'profiles:trigger',
        ttlSec: 60,
      })
      for (let i = 0; i < 7; i++) {
        const req = { headers: { 'x-trigger-profile': forged }, rawHeaders: ['x-trigger-profile', forged] }
        const res = { headersSent: false, setHeader: () => undefined }
        void h.controller.headerTrigger.beforeRequest(
          req as unknown as IncomingMessage,
          res as unknown as ServerResponse,
          () => undefined,
          undefined,
        )
      }
      assert.equal(h.events.length, 0, 'nothing is reported per refusal')
      assert.equal(h.controller.status().audit.refusedUnidentified, 17)
      h.controller.audit.flush()
      const summed = h.events.filter((event) => event.type === 'refusals')
      assert.equal(summed.length, 2)
      type Refusals = Extract<AuditEvent, { type: 'refusals' }>
      const ofSource = (source: string) =>
        summed.find((event): event is Refusals => event.type === 'refusals' && event.source === source)!
      const admin = ofSource('admin')
      const header = ofSource('header')
      assert.equal(
        Object.values(admin.counts).reduce((a, b) => a + b, 0),
        10,
      )
      assert.deepEqual(header.counts, { 'bad-signature': 7 })
      assert.equal(header.outcome, 'refused')
    } finally {
      await h.close()
    }
  })

  test('without a hook each event is logged at info; a hook that throws is logged and changes nothing', async () => {
    const lines: [string, string, Record<string, unknown> | undefined][] = []
    const logger: Logger = {
      debug: () => undefined,
      info: (message, fields) => lines.push(['info', message, fields]),
      warn: () => undefined,
      error: (message, fields) => lines.push(['error', message, fields]),
    }
    const dir = await mkdtemp(join(root, 'l-'))
    const logged = createTripwire({ service: SERVICE, sink: new LocalDiskSink({ dir }), logger })
    const handle = await logged.start({ durationMs: 20 })
    await handle.done
    await logged.close()
    const audit = lines.filter(([, message]) => message === 'tripwire: audit')
    assert.equal(audit.length, 1)
    assert.equal(audit[0]?.[0], 'info')
    assert.equal(audit[0]?.[2]?.captureId, handle.id)

    const throwing = createTripwire({
      service: SERVICE,
      sink: new LocalDiskSink({ dir }),
      logger,
      audit: () => {
        throw new Error('the pipeline is down')
      },
    })
    const second = await throwing.start({ durationMs: 20 })
    assert.equal((await second.done).status, 'completed')
    await throwing.close()
    assert.ok(lines.some(([level, message]) => level === 'error' && /audit hook threw/.test(message)))
  })

  test('the option must be a function', () => {
    assert.throws(
      () => createTripwire({ service: SERVICE, audit: 'log it' as unknown as () => void }),
      /audit.*must be a function/,
    )
  })
})
