/**
 * The `tripwire` bin end to end, as an operator runs it: the BUILT bin in a child process against a live
 * Express app that runs Tripwire on loopback. trigger → list → pull → top → convert, and the error lines.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { LocalDiskSink, type CaptureMeta } from '@tripwire/core'
import { tripwire as tripwireMiddleware, type TripwireController } from '@tripwire/express'
import express from 'express'
import { Profile } from 'pprof-format'

const BIN = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url))
const SECRET = randomBytes(48).toString('base64')
const ENV = { TRIPWIRE_SECRET: SECRET }
const MINT = ['--kid', 'k1', '--aud', 'checkout']
/** A name no library has, so `top` can only have found it in the route below. */
const HOT_FUNCTION = 'spinForTripwireCliTest'
const CAPTURE_ID = /^\d{8}T\d{6}Z-cpu-[0-9a-f]{8,}$/

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** The bin with only the environment given (PATH aside), so the caller's TRIPWIRE_* never leak in. */
function tripwire(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000, ...(cwd !== undefined && { cwd }) },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`tripwire ${args.join(' ')} did not exit normally: ${error.message}`))
          return
        }
        resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr })
      },
    )
  })
}

/** Success: exit 0 and nothing on stderr, which is for errors and progress only. */
async function ok(args: string[], env: Record<string, string> = ENV, cwd?: string): Promise<string> {
  const result = await tripwire(args, env, cwd)
  assert.equal(result.code, 0, `tripwire ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

/** Failure: the exit code, nothing on stdout, and exactly one `tripwire: …` line on stderr. */
async function fails(args: string[], code: number, message: RegExp, env: Record<string, string> = ENV) {
  const result = await tripwire(args, env)
  assert.equal(result.code, code, result.stderr)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^tripwire: [^\n]+\n$/, 'exactly one line')
  assert.match(result.stderr, message)
  return result
}

/** Burns CPU in one call per request, so that it is the capture's hottest function by far. */
function spinForTripwireCliTest(ms: number): number {
  const end = performance.now() + ms
  let x = 0
  while (performance.now() < end) for (let i = 0; i < 10_000; i++) x += Math.sqrt(i + x)
  return x
}

let dir: string
let server: Server
let controller: TripwireController
let url: string
let admin: string

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tripwire-cli-commands-'))
  const app = express()
  const middleware = tripwireMiddleware({
    service: 'checkout',
    keys: [{ kid: 'k1', secret: SECRET }],
    sink: new LocalDiskSink({ dir: join(dir, 'profiles') }),
    limits: { cooldownMs: 0, capturesPerHour: 1000 },
  })
  controller = middleware.tripwire
  app.use(middleware)
  app.get('/work', (_req, res) => void res.json({ result: spinForTripwireCliTest(300) }))
  app.get('/idle', async (_req, res) => {
    await sleep(400)
    res.send('waited')
  })
  server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  admin = `${url}/_tripwire`
})

after(async () => {
  await controller.close()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await rm(dir, { recursive: true, force: true })
})

/** Polls the admin API until the capture has ended and is stored. */
async function stored(id: string): Promise<CaptureMeta> {
  const token = (await ok(['token', ...MINT, '--scope', 'read'])).trim()
  const deadline = Date.now() + 15_000
  for (;;) {
    const res = await fetch(`${admin}/captures/${id}`, { headers: { authorization: `Bearer ${token}` } })
    if (res.status === 200) {
      const meta = (await res.json()) as CaptureMeta
      if (meta.status !== 'running') return meta
    } else {
      await res.body?.cancel()
    }
    assert.ok(Date.now() < deadline, `capture ${id} not stored after 15 s`)
    await sleep(50)
  }
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

describe('a capture from trigger to pprof', () => {
  let id: string
  let meta: CaptureMeta
  let file: string

  test('trigger mints a token, sends it and prints the id of the capture it started', async () => {
    const stdout = await ok(['trigger', `${url}/work`, ...MINT])
    assert.match(stdout, /^\S+\n$/, 'the id and a newline, for ID=$(tripwire trigger …)')
    id = stdout.trim()
    assert.match(id, CAPTURE_ID)
    meta = await stored(id)
    assert.equal(meta.status, 'completed')
    assert.equal(meta.trigger.type, 'header')
    assert.deepEqual(meta.request, { method: 'GET', route: '/work' })
  })

  test('list --json holds the capture; the table shows its row', async () => {
    const json = JSON.parse(await ok(['list', admin, ...MINT, '--json'])) as { items: CaptureMeta[] }
    const item = json.items.find((each) => each.id === id)
    assert.ok(item !== undefined, 'the capture is listed')
    assert.equal(item.sha256, meta.sha256)

    const table = await ok(['list', `${admin}/`, ...MINT, '--kind', 'cpu', '--trigger', 'header'])
    const [header, ...rows] = table.trimEnd().split('\n')
    assert.match(header!, /^ID\s+STATUS\s+KIND\s+TRIGGER\s+ROUTE\s+BYTES\s+DURATION$/)
    const row = rows.find((line) => line.startsWith(id))
    assert.match(row ?? '', /completed\s+cpu\s+header\s+GET \/work\s+[\d.]+ (?:B|KiB|MiB)\s+[\d.]+ (?:ms|s)$/)
  })

  test('list takes its token from $TRIPWIRE_TOKEN, and --all follows the cursor', async () => {
    const token = (await ok(['token', ...MINT, '--scope', 'read'])).trim()
    await ok(['trigger', `${url}/work`, ...MINT]).then((out) => stored(out.trim()))
    type Page = { items: CaptureMeta[]; nextCursor?: string }
    const env = { TRIPWIRE_TOKEN: token }
    const all = JSON.parse(await ok(['list', admin, '--limit', '1', '--all', '--json'], env)) as Page
    const page = JSON.parse(await ok(['list', admin, '--limit', '1', '--json'], env)) as Page
    assert.ok(all.items.length >= 2)
    assert.equal(all.nextCursor, undefined)
    assert.equal(page.items.length, 1)
    assert.match(page.nextCursor ?? '', CAPTURE_ID)
  })

  test('pull writes the profile, owner-only, and its sha256 is the metadata’s', async () => {
    file = join(dir, 'x.cpuprofile')
    const result = await tripwire(['pull', admin, id, ...MINT, '-o', file], ENV)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, `${file}\n`)
    // stderr is not a terminal here: one plain final line instead of a bar
    assert.match(result.stderr, /^[^\n]*x\.cpuprofile: [\d.]+ (?:B|KiB|MiB), sha256 verified\n$/)
    const bytes = await readFile(file)
    assert.equal(createHash('sha256').update(bytes).digest('hex'), meta.sha256)
    assert.equal(bytes.length, meta.bytes)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
  })

  test('pull without -o names the file from Content-Disposition; --json says what it wrote', async () => {
    const cwd = await mkdtemp(join(dir, 'cwd-'))
    const json = JSON.parse(await ok(['pull', admin, id, ...MINT, '--json'], ENV, cwd)) as Record<
      string,
      unknown
    >
    assert.deepEqual(json, { id, file: `${id}.cpuprofile`, bytes: meta.bytes, sha256: meta.sha256 })
    assert.deepEqual(await readdir(cwd), [`${id}.cpuprofile`])
  })

  test('pull refuses to replace a file unless --force, and leaves it as it was', async () => {
    const existing = join(dir, 'existing.cpuprofile')
    await writeFile(existing, 'mine')
    await fails(
      ['pull', admin, id, ...MINT, '-o', existing],
      1,
      /existing\.cpuprofile already exists; pass --force/,
    )
    assert.equal(await readFile(existing, 'utf8'), 'mine')
    await ok(['pull', admin, id, ...MINT, '-o', existing, '--force'])
    assert.equal((await readFile(existing)).length, meta.bytes)
  })

  test('pull --format pprof downloads the converted profile', async () => {
    const out = join(dir, 'server.pb.gz')
    await ok(['pull', admin, id, ...MINT, '--format', 'pprof', '-o', out])
    const profile = Profile.decode(gunzipSync(await readFile(out)))
    assert.ok(profile.sample.length > 0)
  })

  test('top names the hot function first, by self time', async () => {
    const text = await ok(['top', file])
    const lines = text.split('\n')
    const header = lines.findIndex((line) => line.includes('self %'))
    assert.ok(header >= 0, text)
    assert.match(lines[header + 1]!, new RegExp(HOT_FUNCTION), text)
    assert.match(text, /CPU-bound: the hottest function is spinForTripwireCliTest/)

    const json = JSON.parse(await ok(['top', file, '--limit', '3', '--json'])) as {
      kind: string
      verdicts: string[]
      bySelf: { functionName: string }[]
      byTotal: { functionName: string; totalShare: number }[]
    }
    assert.equal(json.kind, 'cpu')
    assert.deepEqual(json.verdicts, ['cpu-bound'])
    assert.equal(json.bySelf.length, 3)
    assert.equal(json.bySelf[0]!.functionName, HOT_FUNCTION)
    const shares = json.byTotal.map((entry) => entry.totalShare)
    assert.deepEqual(
      shares,
      [...shares].sort((a, b) => b - a),
      'byTotal is ranked by total',
    )
  })

  test('convert writes pprof that gunzips and decodes, with the hot function in it', async () => {
    const out = join(dir, 'converted.pb.gz')
    assert.equal(await ok(['convert', file, '--to', 'pprof', '-o', out]), `${out}\n`)
    const profile = Profile.decode(gunzipSync(await readFile(out)))
    const strings = profile.stringTable.strings
    assert.deepEqual(
      profile.sampleType.map((type) => `${strings[Number(type.type)]}/${strings[Number(type.unit)]}`),
      ['samples/count', 'cpu/nanoseconds'],
    )
    const names = profile.function.map((fn) => strings[Number(fn.name)])
    assert.ok(names.includes(HOT_FUNCTION), names.join(', '))
    // beside the input by default, and never over an existing file without --force
    assert.equal(await ok(['convert', file, '--to', 'pprof']), `${join(dir, 'x.pb.gz')}\n`)
    assert.deepEqual(await readFile(join(dir, 'x.pb.gz')), await readFile(out))
    await fails(['convert', file, '--to', 'pprof'], 1, /x\.pb\.gz already exists/)
  })

  test('an idle request: top says the time went to waiting, not CPU', async () => {
    const idle = (await ok(['trigger', `${url}/idle`, ...MINT])).trim()
    await stored(idle)
    const out = join(dir, 'idle.cpuprofile')
    await ok(['pull', admin, idle, ...MINT, '-o', out])
    assert.match(await ok(['top', out]), /mostly idle: the time went to I\/O or waiting, not CPU/)
  })

  test('trigger --json reports the outcome, and a busy service is one line and exit 1', async () => {
    const window = JSON.parse(
      await ok(['trigger', `${url}/work`, ...MINT, '--mode', 'window', '--dur', '3000', '--json']),
    ) as Record<string, unknown>
    assert.equal(window.status, 'accepted')
    assert.match(String(window.id), CAPTURE_ID)
    assert.equal(window.httpStatus, 200)
    const busy = await tripwire(['trigger', `${url}/work`, ...MINT, '--json'], ENV)
    assert.equal(busy.code, 1)
    assert.match(busy.stderr, /^tripwire: busy: another capture is running .*x-profile-error: \S+/)
    const json = JSON.parse(busy.stdout) as Record<string, unknown>
    assert.equal(json.status, 'busy')
    assert.equal(json.id, null)
    await controller.stop(String(window.id))
  })
})

describe('errors: one line on stderr, exit 2 for usage and 1 for runtime', () => {
  test('trigger without a key: exit 2', async () => {
    await fails(['trigger', `${url}/work`, ...MINT], 2, /no key: set TRIPWIRE_SECRET/, {})
    await fails(['trigger', `${url}/work`], 2, /no token: mint one here with --kid KID --aud SERVICE/, {})
  })

  test('trigger with a token the service refuses: exit 1, rejected', async () => {
    const other = { TRIPWIRE_SECRET: randomBytes(48).toString('base64') }
    await fails(['trigger', `${url}/work`, ...MINT], 1, /rejected: the service refused the token/, other)
  })

  test('list against a closed port: connection refused', async () => {
    const port = await freePort()
    await fails(['list', `http://127.0.0.1:${port}/_tripwire`, ...MINT], 1, /connection refused/)
  })

  test('list where no admin API is mounted, and with a token the service does not accept', async () => {
    await fails(['list', `${url}/nope`, ...MINT], 1, /404 not found .*no Tripwire admin API there/)
    await fails(['list', admin, '--token', 'aaa.bbb.ccc'], 1, /^tripwire: list: 401 unauthorized: \S/)
  })

  test('pull an unknown id: the service’s 404 message', async () => {
    const unknown = '20200101T000000Z-cpu-00000000'
    await fails(
      ['pull', admin, unknown, ...MINT, '-o', join(dir, 'nope')],
      1,
      /404 not found: no capture has the id/,
    )
    await fails(['pull', admin, 'not-an-id', ...MINT], 2, /ID is not a capture id/)
  })

  test('top on a file that is not a profile', async () => {
    const text = join(dir, 'notes.txt')
    await writeFile(text, 'hello')
    await fails(['top', text], 1, /notes\.txt is not a \.cpuprofile or \.heapprofile: it is not JSON/)
    await writeFile(text, '{"hello": 1}')
    await fails(['top', text], 1, /is JSON, but not a \.cpuprofile/)
    await fails(['top', join(dir, 'missing.cpuprofile')], 1, /missing\.cpuprofile: no such file/)
  })

  test('usage: a missing argument, an unknown flag, a bad value', async () => {
    await fails(['pull', admin], 2, /missing ID/)
    await fails(['list', admin, '--al'], 2, /unknown flag --al \(did you mean --all\?\)/)
    await fails(['list', 'ftp://x/_tripwire', ...MINT], 2, /ADMIN_URL must start with http:\/\//)
    await fails(['convert', join(dir, 'x.cpuprofile')], 2, /--to is required/)
    await fails(['trigger', `${url}/work`, ...MINT, '--timeout', '0'], 2, /--timeout must be/)
  })
})

describe('help', () => {
  for (const command of ['trigger', 'list', 'pull', 'top', 'convert']) {
    test(`tripwire ${command} --help`, async () => {
      const result = await tripwire([command, '--help'])
      assert.equal(result.code, 0)
      assert.match(result.stdout, new RegExp(`^Usage:\\n  tripwire ${command} `))
      assert.match(result.stdout, /Examples:/)
    })
  }

  test('tripwire --help lists every command', async () => {
    const { stdout } = await tripwire(['--help'])
    for (const command of ['token', 'trigger', 'list', 'pull', 'top', 'convert']) {
      assert.match(stdout, new RegExp(`^  ${command} +\\S`, 'm'), command)
    }
  })
})

describe('view', () => {
  test('serves a profile on disk as the flame graph, on loopback under a random path, until stopped', async () => {
    const file = join(dir, 'view.cpuprofile')
    const profile = {
      nodes: [
        {
          id: 1,
          callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 },
          children: [2],
        },
        {
          id: 2,
          callFrame: {
            functionName: HOT_FUNCTION,
            scriptId: '1',
            url: 'file:///app/x.js',
            lineNumber: 3,
            columnNumber: 0,
          },
        },
      ],
      startTime: 0,
      endTime: 3000,
      samples: [2, 2, 2],
      timeDeltas: [0, 1000, 1000],
    }
    await writeFile(file, JSON.stringify(profile))
    const child = spawn(process.execPath, [BIN, 'view', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer]
      const pageUrl = line.toString().trim()
      assert.match(pageUrl, /^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\/$/)
      const page = await fetch(pageUrl)
      assert.equal(page.status, 200)
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/)
      assert.match(await page.text(), /flamegraph\.js/)
      assert.deepEqual(await (await fetch(`${pageUrl}profile`)).json(), profile)
      assert.equal((await fetch(`${pageUrl}flamegraph.js`)).status, 200)
      const origin = new URL(pageUrl).origin
      assert.equal((await fetch(`${origin}/profile`)).status, 404, 'nothing outside the random path')
    } finally {
      child.kill('SIGTERM')
    }
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 0)
  })
})
