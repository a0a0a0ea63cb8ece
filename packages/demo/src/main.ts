/**
 * The Tripwire demo, end to end: a shop (Express, Koa or Fastify) with a slow route starts on 127.0.0.1; a signed trigger token
 * is minted; one request carries it in `x-trigger-profile`; the capture is listed and downloaded through the
 * admin API; its file on disk and its hottest functions are printed.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import {
  LocalDiskSink,
  mintToken,
  summarizeCpuProfile,
  type CaptureMeta,
  type CpuProfile,
} from '@tripwire/core'
import { parseArgs } from 'node:util'
import { startExpressShop } from './apps/express.js'
import { startFastifyShop } from './apps/fastify.js'
import { startKoaShop } from './apps/koa.js'
import type { StartShop } from './apps/shop.js'

const SERVICE = 'demo-shop'
const KID = 'demo'

const FRAMEWORKS: Record<string, { name: string; start: StartShop; usage: string }> = {
  express: {
    name: 'An Express shop',
    start: startExpressShop,
    usage: `app.use(tripwire({ service: '${SERVICE}', keys: [{ kid: '${KID}', secret }] }))`,
  },
  koa: {
    name: 'A Koa shop',
    start: startKoaShop,
    usage: `app.use(tripwire({ service: '${SERVICE}', keys: [{ kid: '${KID}', secret }] }))`,
  },
  fastify: {
    name: 'A Fastify shop',
    start: startFastifyShop,
    usage: `await app.register(tripwire, { service: '${SERVICE}', keys: [{ kid: '${KID}', secret }] })`,
  },
}

/** `npm run demo -- --framework koa|fastify` (Express by default). */
function chosenFramework(): (typeof FRAMEWORKS)[string] {
  const { values } = parseArgs({ options: { framework: { type: 'string', default: 'express' } } })
  const framework = FRAMEWORKS[values.framework]
  if (framework === undefined) {
    throw new Error(
      `--framework must be one of ${Object.keys(FRAMEWORKS).join(', ')}, got ${values.framework}`,
    )
  }
  return framework
}

function step(text: string): void {
  console.log(`\n▶ ${text}`)
}

function show(text: string): void {
  console.log(`  ${text}`)
}

async function main(): Promise<void> {
  const framework = chosenFramework()
  const secret = randomBytes(32).toString('base64url')
  const dir = join(process.cwd(), 'profiles')
  const shop = await framework.start({
    service: SERVICE,
    keys: [{ kid: KID, secret }],
    sink: new LocalDiskSink({ dir }),
  })
  const base = shop.url

  step(`${framework.name} listens on ${base}; GET /checkout is slow`)
  show(framework.usage)

  step('Mint a single-use trigger token (CPU, for the span of one request)')
  const triggerToken = mintToken({
    key: secret,
    kid: KID,
    audience: SERVICE,
    subject: 'demo',
    scope: 'profiles:trigger',
    ttlSec: 60,
    claims: { kind: 'cpu', mode: 'request' },
  })
  show(`tripwire token --kid ${KID} --aud ${SERVICE} --kind cpu --mode request   # the CLI equivalent`)
  show(`${triggerToken.slice(0, 40)}…`)

  step('Send one request that carries it')
  show(`curl -H "x-trigger-profile: $TOKEN" ${base}/checkout`)
  const started = performance.now()
  const response = await fetch(`${base}/checkout`, { headers: { 'x-trigger-profile': triggerToken } })
  const body = await response.text()
  const id = response.headers.get('x-profile-id')
  show(`${response.status} ${body} in ${Math.round(performance.now() - started)} ms`)
  show(`x-profile-status: ${response.headers.get('x-profile-status')}`)
  show(`x-profile-id: ${id}`)
  if (id === null) throw new Error('the trigger was not accepted')

  step('List captures through the admin API (a read-only admin token)')
  const readToken = mintToken({
    key: secret,
    kid: KID,
    audience: SERVICE,
    subject: 'demo',
    scope: 'profiles:read',
    ttlSec: 300,
  })
  const auth = { authorization: `Bearer ${readToken}` }
  show(`curl -H "authorization: Bearer $ADMIN_TOKEN" ${base}/_tripwire/captures`)
  const meta = await waitUntilStored(base, id, auth)
  const list = (await (await fetch(`${base}/_tripwire/captures?limit=5`, { headers: auth })).json()) as {
    items: CaptureMeta[]
  }
  for (const item of list.items)
    show(`${item.id}  ${item.status}  ${item.bytes} bytes  ${item.request?.route ?? ''}`)

  step('Download it')
  show(`curl -OJ -H "authorization: Bearer $ADMIN_TOKEN" ${base}/_tripwire/captures/${id}/profile`)
  const download = await fetch(`${base}/_tripwire/captures/${id}/profile`, { headers: auth })
  const profile = Buffer.from(await download.arrayBuffer())
  show(`${download.status}, ${profile.length} bytes, ${download.headers.get('content-disposition')}`)

  const file = join(dir, meta.fileName)
  step('Where it is stored')
  show(`${relative(process.cwd(), file)} (metadata beside it: ${meta.id}.json)`)
  show(`${meta.sampling?.samples} samples over ${meta.durationMs} ms, route ${meta.request?.route}`)
  if (!(await readFile(file)).equals(profile)) throw new Error('the download differs from the stored file')

  step('The hottest functions, by self time')
  const summary = summarizeCpuProfile(JSON.parse(profile.toString()) as CpuProfile)
  const percent = (share: number) => `${(share * 100).toFixed(1).padStart(5)} %`
  show(`${'self'.padStart(7)}  ${'total'.padStart(7)}  function`)
  for (const fn of summary.functions.slice(0, 5)) {
    const where =
      fn.url === ''
        ? ''
        : ` (${fn.url
            .replace(/^file:\/\//, '')
            .split('/')
            .slice(-2)
            .join('/')}:${fn.line})`
    show(`${percent(fn.selfShare)}  ${percent(fn.totalShare)}  ${fn.functionName}${where}`)
  }
  show(`idle ${percent(summary.idleShare)}, garbage collection ${percent(summary.gcShare)}`)
  console.log('\nOpen the .cpuprofile in Chrome DevTools (Performance panel) or speedscope.')

  await shop.controller.close()
  await shop.close()
}

/** The capture ends with the response; it reaches the disk a moment later. */
async function waitUntilStored(
  base: string,
  id: string,
  headers: Record<string, string>,
): Promise<CaptureMeta> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`${base}/_tripwire/captures/${id}`, { headers })
    const meta = (await response.json()) as CaptureMeta
    if (response.ok && meta.status !== 'running') {
      if (meta.status !== 'completed')
        throw new Error(`the capture ended ${meta.status}: ${meta.error?.message}`)
      return meta
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`capture ${id} was not stored in time`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
