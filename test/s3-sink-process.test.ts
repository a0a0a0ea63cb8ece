/**
 * The S3 sink as users install it, against the BUILT package (`npm run build` first): `@tripwire/core` never
 * loads the AWS SDK (statically and at run time), `@tripwire/core/s3` resolves through the exports map, and a
 * process killed with captures in its spool gets them uploaded by the next process on that spool.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { S3Sink } from '@tripwire/core/s3'
import { buildApp } from 'fauxqs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CORE_DIST = join(ROOT, 'packages', 'core', 'dist')
const CHILD_TIMEOUT_MS = 20_000
const WAIT_MS = 15_000
const CREDENTIALS = { accessKeyId: 'tripwire-test', secretAccessKey: 'tripwire-test-secret' }

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-s3-process-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** The module specifiers a built ES module imports (static, re-exports and literal dynamic imports). */
function specifiersOf(source: string): string[] {
  const pattern =
    /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm
  return [...source.matchAll(pattern)].map((match) => (match[1] ?? match[2] ?? match[3])!)
}

/** Every bare specifier reachable from `entry` through relative imports. */
async function reachableImports(entry: string): Promise<{ files: string[]; packages: Set<string> }> {
  const files = new Set<string>()
  const packages = new Set<string>()
  const queue = [entry]
  while (queue.length > 0 && files.size < 1000) {
    const file = queue.pop()!
    if (files.has(file)) continue
    files.add(file)
    for (const specifier of specifiersOf(await readFile(file, 'utf8'))) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier))
      else packages.add(specifier)
    }
  }
  return { files: [...files], packages }
}

function runNode(
  args: string[],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node ${args.join(' ')} ran longer than ${CHILD_TIMEOUT_MS} ms\n${stdout}\n${stderr}`))
    }, CHILD_TIMEOUT_MS)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolveRun({ code, signal, stdout, stderr })
    })
  })
}

describe('@tripwire/core without the AWS SDK', () => {
  test('no module reachable from dist/index.js imports @aws-sdk; the s3 entry does', async () => {
    const core = await reachableImports(join(CORE_DIST, 'index.js'))
    assert.ok(core.files.length > 20, `the walk followed the imports (${core.files.length} files)`)
    const aws = [...core.packages].filter((name) => name.startsWith('@aws-sdk/'))
    assert.deepEqual(aws, [], 'the main entry must not pull in the AWS SDK')
    assert.ok(!core.files.some((file) => file.includes(join('sinks', 's3'))), 'nor the S3 sink')

    const s3 = await reachableImports(join(CORE_DIST, 'sinks', 's3', 'index.js'))
    for (const name of ['@aws-sdk/client-s3', '@aws-sdk/lib-storage', '@aws-sdk/s3-request-presigner']) {
      assert.ok(s3.packages.has(name), `the s3 entry imports ${name} (the scan sees imports)`)
    }
  })

  test('importing @tripwire/core resolves no @aws-sdk module at run time', async () => {
    const hooks = join(root, 'deny-aws-sdk.mjs')
    await writeFile(
      hooks,
      "export async function resolve(specifier, context, next) {\n  if (specifier.startsWith('@aws-sdk/')) throw new Error(`AWS SDK loaded: ${specifier}`)\n  return next(specifier, context)\n}\n",
    )
    const register = join(root, 'register-deny.mjs')
    await writeFile(
      register,
      `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`,
    )
    const script =
      "const core = await import('@tripwire/core'); console.log('core', typeof core.createTripwire);" +
      "try { await import('@tripwire/core/s3'); console.log('s3 loaded') } catch (e) { console.log('s3 denied', e.message) }"
    const run = await runNode(['--import', pathToFileURL(register).href, '--input-type=module', '-e', script])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^core function$/m)
    // the control: the same hook does stop the S3 entry, so the first line means something
    assert.match(run.stdout, /^s3 denied AWS SDK loaded: @aws-sdk\//m)
  })
})

describe('S3Sink across a crash', () => {
  test('captures spooled by a process killed with SIGKILL are uploaded by the next one', async () => {
    // a port with nothing listening: the child's store is down for its whole life
    const first = await startS3(0)
    const port = first.port
    await first.stop()
    const spoolDir = join(root, 'spool')
    const bucket = 'crash-bucket'
    const child = await runNode([
      join(ROOT, 'test', 'scenarios', 's3-crash-put.mjs'),
      `http://127.0.0.1:${port}`,
      bucket,
      spoolDir,
    ])
    assert.equal(child.signal, 'SIGKILL', child.stderr)
    const result = JSON.parse(child.stdout.split('\n')[0]!) as {
      putMs: number
      status: { spooled: number }
      captures: { id: string; sha256: string; bytes: number }[]
    }
    assert.ok(result.putMs < 2000, `put did not wait for the store (${Math.round(result.putMs)} ms)`)
    assert.equal(result.status.spooled, 2)
    const left = await readdir(spoolDir)
    assert.ok(
      left.some((name) => name.startsWith('.tmp-')),
      `a half-written put was left behind: ${left.join(', ')}`,
    )

    const server = await startS3(port)
    const client = new S3Client(clientConfig(server.endpoint))
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      const next = new S3Sink({ bucket, client, spool: { dir: spoolDir }, retry: { baseMs: 20, maxMs: 200 } })
      await next.start()
      const end = performance.now() + WAIT_MS
      while (next.status().spooled > 0 || (await readdir(spoolDir)).length > 0) {
        assert.ok(performance.now() < end, `the spool did not drain: ${JSON.stringify(next.status())}`)
        await new Promise((resolveWait) => setTimeout(resolveWait, 20))
      }
      assert.equal(next.status().uploaded, 2)
      await next.close()

      const reader = new S3Sink({ bucket, client, spool: { dir: join(root, 'reader-spool') } })
      const listed = await reader.list({ limit: 10 })
      assert.deepEqual(
        listed.items.map((meta) => meta.id),
        result.captures.map((capture) => capture.id).reverse(),
      )
      for (const capture of result.captures) {
        const stored = await reader.get(capture.id)
        assert.ok(stored)
        const body = await readAll(stored.body)
        assert.equal(body.length, capture.bytes)
        assert.equal(createHash('sha256').update(body).digest('hex'), capture.sha256)
      }
      await reader.close()
    } finally {
      client.destroy()
      await server.stop()
    }
  })
})

function clientConfig(endpoint: string) {
  return { endpoint, forcePathStyle: true, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 }
}

async function startS3(port: number): Promise<{ port: number; endpoint: string; stop(): Promise<void> }> {
  const app = buildApp({ logger: false })
  await app.listen({ port, host: '127.0.0.1' })
  const bound = (app.server.address() as AddressInfo).port
  return { port: bound, endpoint: `http://127.0.0.1:${bound}`, stop: () => app.close() }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
