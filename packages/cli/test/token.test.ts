/**
 * `tripwire token`, run as the built bin in a child process, with its tokens sent to a real Tripwire service:
 * a token that merely decodes proves little, one that a service accepts proves the contract.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createTripwireHttp, LocalDiskSink, type CaptureMeta, type KeyOption } from '@tripwire/core'

const BIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const SECRET = randomBytes(48).toString('base64')
const TOKEN_FLAGS = [
  '--secret-env',
  '--secret-file',
  '--key-file',
  '--kid',
  '--aud',
  '--scope',
  '--ttl',
  '--iss',
  '--sub',
  '--alg',
  '--kind',
  '--mode',
  '--dur',
  '--header',
  '--json',
  '--help',
]

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** The bin with only the environment given (PATH aside), so a TRIPWIRE_SECRET in the caller's never leaks in. */
function tripwire(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 },
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

async function mint(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await tripwire(['token', ...args], env)
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stderr, '')
  assert.match(result.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'the bare token and one newline')
  return result.stdout.trimEnd()
}

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const json = (part: string | undefined) =>
    JSON.parse(Buffer.from(part ?? '', 'base64url').toString()) as Record<string, unknown>
  const [header, payload] = token.split('.')
  return { header: json(header), payload: json(payload) }
}

/**
 * `exp` is about `ttl` seconds from now. Measured against the clock rather than `iat`: the HS* tokens the core
 * minter signs carry no `iat` (jsonwebtoken's noTimestamp drops it), which services accept.
 */
function assertLifetime(payload: Record<string, unknown>, ttlSec: number): void {
  const remaining = (payload.exp as number) - Date.now() / 1000
  assert.ok(remaining > ttlSec - 10 && remaining <= ttlSec + 1, `exp is ${remaining} s away, not ${ttlSec}`)
}

interface Service {
  url: string
  http: ReturnType<typeof createTripwireHttp>
  close(): Promise<void>
}

/** A plain node:http service named checkout that runs Tripwire with the given keys. */
async function startService(keys: KeyOption[], dir: string): Promise<Service> {
  const http = createTripwireHttp({
    service: 'checkout',
    keys,
    sink: new LocalDiskSink({ dir }),
    limits: { cooldownMs: 0 },
  })
  const server = createServer((req, res) => {
    const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    const disposition = http.handle(req, res, () => '/work', undefined)
    if (disposition === 'next') answer()
    else void disposition.then((next) => next === 'next' && answer())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    http,
    close: async () => {
      await http.controller.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Sends a trigger token on a request and waits for the capture it started to be stored. */
async function triggerWith(service: Service, token: string): Promise<CaptureMeta> {
  const res = await fetch(`${service.url}/work`, { headers: { 'x-trigger-profile': token } })
  assert.equal(await res.text(), 'ok')
  assert.equal(res.headers.get('x-profile-status'), 'accepted', res.headers.get('x-profile-error') ?? '')
  const id = res.headers.get('x-profile-id')
  assert.ok(id !== null)
  const deadline = Date.now() + 10_000
  for (;;) {
    const meta = await service.http.controller.find(id)
    if (meta !== undefined && meta.status !== 'running') return meta
    assert.ok(Date.now() < deadline, `capture ${id} still running after 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tripwire-cli-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('tokens a service accepts', () => {
  test('HS256 from --secret-env, with the subject recorded in the capture', async () => {
    const service = await startService([{ kid: 'k1', secret: SECRET }], join(dir, 'env'))
    try {
      const token = await mint(
        ['--kid', 'k1', '--aud', 'checkout', '--secret-env', 'CHECKOUT_SECRET', '--sub', 'ci@test'],
        {
          CHECKOUT_SECRET: SECRET,
        },
      )
      const meta = await triggerWith(service, token)
      assert.equal(meta.status, 'completed')
      assert.equal(meta.trigger.type, 'header')
      assert.equal(meta.trigger.subject, 'ci@test')
    } finally {
      await service.close()
    }
  })

  test('HS256 from $TRIPWIRE_SECRET when no key flag is given', async () => {
    const service = await startService([{ kid: 'k1', secret: SECRET }], join(dir, 'default-env'))
    try {
      const token = await mint(['--kid', 'k1', '--aud', 'checkout'], { TRIPWIRE_SECRET: SECRET })
      assert.equal((await triggerWith(service, token)).status, 'completed')
    } finally {
      await service.close()
    }
  })

  test('HS256 from --secret-file, less its trailing newline', async () => {
    const path = join(dir, 'secret.txt')
    await writeFile(path, `${SECRET}\n`, { mode: 0o600 })
    const service = await startService([{ kid: 'k1', secret: SECRET }], join(dir, 'file'))
    try {
      const token = await mint(['--kid', 'k1', '--aud', 'checkout', '--secret-file', path])
      assert.equal((await triggerWith(service, token)).status, 'completed')
    } finally {
      await service.close()
    }
  })

  for (const [algorithm, pair] of [
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['EdDSA', generateKeyPairSync('ed25519')],
  ] as const) {
    test(`${algorithm} from --key-file; the algorithm follows the key type`, async () => {
      const path = join(dir, `${algorithm}.pem`)
      await writeFile(path, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
      const publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' })
      const service = await startService([{ kid: 'pk', publicKey }], join(dir, algorithm))
      try {
        const token = await mint(['--kid', 'pk', '--aud', 'checkout', '--key-file', path])
        assert.equal(decode(token).header.alg, algorithm)
        assert.equal((await triggerWith(service, token)).status, 'completed')
      } finally {
        await service.close()
      }
    })
  }

  test('a --scope read token lists captures on the admin API; a trigger token may not', async () => {
    const service = await startService([{ kid: 'k1', secret: SECRET }], join(dir, 'admin'))
    const env = { TRIPWIRE_SECRET: SECRET }
    try {
      const captured = await triggerWith(service, await mint(['--kid', 'k1', '--aud', 'checkout'], env))
      const header = await tripwire(
        ['token', '--kid', 'k1', '--aud', 'checkout', '--scope', 'read', '--header'],
        env,
      )
      assert.equal(header.code, 0, header.stderr)
      const match = /^authorization: (Bearer \S+)\n$/.exec(header.stdout)
      assert.ok(match !== null, header.stdout)
      const res = await fetch(`${service.url}/_tripwire/captures`, { headers: { authorization: match[1]! } })
      assert.equal(res.status, 200)
      const page = (await res.json()) as { items: CaptureMeta[] }
      assert.deepEqual(
        page.items.map((item) => item.id),
        [captured.id],
      )
      const trigger = await mint(['--kid', 'k1', '--aud', 'checkout'], env)
      const refused = await fetch(`${service.url}/_tripwire/captures`, {
        headers: { authorization: `Bearer ${trigger}` },
      })
      assert.equal(refused.status, 403)
    } finally {
      await service.close()
    }
  })
})

describe('output and claims', () => {
  const env = { TRIPWIRE_SECRET: SECRET }

  test('--json prints token, kid, scope, exp and jti; admin scopes default to 900 s', async () => {
    const result = await tripwire(
      ['token', '--kid', 'k1', '--aud', 'checkout', '--scope', 'admin', '--json'],
      env,
    )
    assert.equal(result.code, 0, result.stderr)
    const json = JSON.parse(result.stdout) as Record<string, unknown>
    assert.deepEqual(Object.keys(json), ['token', 'kid', 'scope', 'exp', 'jti'])
    assert.equal(json.kid, 'k1')
    assert.equal(json.scope, 'profiles:read profiles:write')
    const { payload } = decode(json.token as string)
    assert.equal(json.exp, payload.exp)
    assert.equal(json.jti, payload.jti)
    assert.match(json.jti as string, /^[0-9a-f-]{36}$/)
    assertLifetime(payload, 900)
  })

  test('--header prints a line for curl -H: the trigger header, or a Bearer token for admin scopes', async () => {
    const trigger = await tripwire(['token', '--kid', 'k1', '--aud', 'checkout', '--header'], env)
    assert.match(trigger.stdout, /^x-trigger-profile: [\w-]+\.[\w-]+\.[\w-]+\n$/)
    const write = await tripwire(
      ['token', '--kid', 'k1', '--aud', 'checkout', '--scope', 'write', '--header'],
      env,
    )
    assert.match(write.stdout, /^authorization: Bearer [\w-]+\.[\w-]+\.[\w-]+\n$/)
    assert.equal(decode(write.stdout.trimEnd().split(' ').at(-1)!).payload.scope, 'profiles:write')
  })

  test('window mode: the claims a service reads, a 60 s default lifetime and a fresh jti per token', async () => {
    const args = ['--kid', 'k1', '--aud', 'checkout', '--kind', 'heap', '--mode', 'window', '--dur', '500']
    const first = decode(await mint([...args, '--iss', 'ops', '--sub', 'me@laptop'], env))
    assert.equal(first.header.kid, 'k1')
    assert.equal(first.header.alg, 'HS256')
    assert.equal(first.payload.kind, 'heap')
    assert.equal(first.payload.mode, 'window')
    assert.equal(first.payload.dur, 500)
    assert.equal(first.payload.scope, 'profiles:trigger')
    assert.equal(first.payload.aud, 'checkout')
    assert.equal(first.payload.iss, 'ops')
    assert.equal(first.payload.sub, 'me@laptop')
    assertLifetime(first.payload, 60)
    const second = decode(await mint(args, env))
    assert.notEqual(second.payload.jti, first.payload.jti)
    assert.match(String(second.payload.sub), /.+@.+/, 'defaults to user@host')
  })
})

describe('errors: one line on stderr, exit 2 for usage and 1 for runtime', () => {
  const env = { TRIPWIRE_SECRET: SECRET }
  const base = ['token', '--kid', 'k1', '--aud', 'checkout']
  let publicPem: string
  before(async () => {
    publicPem = join(dir, 'public.pem')
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    await writeFile(publicPem, publicKey.export({ type: 'spki', format: 'pem' }))
  })

  const cases: [string, () => string[], Record<string, string>, number, RegExp][] = [
    ['missing --kid', () => ['token', '--aud', 'checkout'], env, 2, /--kid is required/],
    ['--mode window without --dur', () => [...base, '--mode', 'window'], env, 2, /--mode window needs --dur/],
    ['--dur 0', () => [...base, '--mode', 'window', '--dur', '0'], env, 2, /--dur must be .* from 1/],
    ['--kind gpu', () => [...base, '--kind', 'gpu'], env, 2, /--kind must be cpu, heap or heapsnapshot/],
    [
      '--kind heap --scope read',
      () => [...base, '--kind', 'heap', '--scope', 'read'],
      env,
      2,
      /trigger tokens only/,
    ],
    [
      'unknown flag --ttll',
      () => [...base, '--ttll', '60'],
      env,
      2,
      /unknown flag --ttll \(did you mean --ttl\?\)/,
    ],
    [
      'no key and TRIPWIRE_SECRET unset',
      () => base,
      {},
      2,
      /no key: set TRIPWIRE_SECRET, or pass --secret-env/,
    ],
    [
      'unreadable --key-file',
      () => [...base, '--key-file', join(dir, 'missing.pem')],
      env,
      1,
      /missing\.pem: no such file/,
    ],
    [
      'a public key given to --key-file',
      () => [...base, '--key-file', publicPem],
      env,
      1,
      /holds a public key/,
    ],
    ['a secret that services would refuse', () => base, { TRIPWIRE_SECRET: 'short' }, 1, /at least 32/],
    ['--alg that needs a private key', () => [...base, '--alg', 'ES256'], env, 2, /pass --key-file/],
    ['--header with --json', () => [...base, '--header', '--json'], env, 2, /not both/],
    ['an unknown command', () => ['tokn'], env, 2, /unknown command "tokn" \(did you mean token\?\)/],
  ]
  for (const [name, args, runEnv, code, message] of cases) {
    test(name, async () => {
      const result = await tripwire(args(), runEnv)
      assert.equal(result.code, code, result.stderr)
      assert.equal(result.stdout, '')
      assert.match(result.stderr, /^tripwire: [^\n]+\n$/, 'exactly one line')
      assert.match(result.stderr, message)
    })
  }

  test('a secret passed as a flag is refused without being echoed', async () => {
    const result = await tripwire([...base, '--secret=hunter2-hunter2'], env)
    assert.equal(result.code, 2)
    assert.match(result.stderr, /^tripwire: --secret is not a flag: .*shell history/)
    assert.doesNotMatch(result.stderr, /hunter2/)
  })
})

describe('help and version', () => {
  test('tripwire --help mentions every flag, the scopes and both curl examples', async () => {
    const result = await tripwire(['--help'])
    assert.equal(result.code, 0)
    for (const flag of [...TOKEN_FLAGS, '--version']) assert.ok(result.stdout.includes(flag), flag)
    assert.match(result.stdout, /curl .*x-trigger-profile|curl .*--header\)" https:\/\/\S+\/api/)
    assert.match(result.stdout, /curl .*--scope read --header\)" https:\/\/\S+\/_tripwire\/captures/)
  })

  test('tripwire token --help mentions every flag with its default, and wins over other flags', async () => {
    const result = await tripwire(['token', '--ttll', '--help'])
    assert.equal(result.code, 0)
    assert.equal(result.stderr, '')
    for (const flag of TOKEN_FLAGS) assert.ok(result.stdout.includes(flag), flag)
    assert.match(result.stdout, /--ttl SECONDS .*\(default: 60 for trigger, 900/s)
    assert.match(result.stdout, /never pass the secret itself as a flag/i)
    assert.match(result.stdout, /_tripwire\/captures/)
  })

  test('tripwire --version prints the package version', async () => {
    const result = await tripwire(['--version'])
    assert.equal(result.code, 0)
    assert.match(result.stdout, /^\d+\.\d+\.\d+\S*\n$/)
  })
})
