import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { Profile } from 'pprof-format'
import {
  convertCapture,
  createAdminHandler,
  cpuProfileToPprof,
  createTripwire,
  encodePprofGzip,
  ErrorCodes,
  heapProfileToPprof,
  isTripwireError,
  LocalDiskSink,
  renderTop,
  summarizeCpuProfile,
  topFunctions,
  type CaptureMeta,
  type CpuProfile,
  type HeapProfile,
  type HeapProfileNode,
  type Sink,
  type SinkListPage,
  type StoredCapture,
  type TripwireController,
} from '../src/index.js'
import { apportion } from '../src/formats/apportion.js'

const THIS_FILE = fileURLToPath(import.meta.url)

/**
 * The CPU workload lives in a plain module written at test time: tsx compiles this file onto one line, so
 * V8's line numbers here would say nothing about whether lines survive. Its lines are known exactly.
 */
const HOT_MODULE = [
  '// a CPU-bound workload with a distinctive name, for the pprof tests',
  '',
  'export function pprofHotLoop(ms) {', // line 3
  '  const end = performance.now() + ms',
  '  let x = 0',
  '  while (performance.now() < end) {',
  '    for (let i = 0; i < 10_000; i++) x += Math.sqrt(i) * Math.sin(x)',
  '  }',
  '  return x',
  '}',
  '',
].join('\n')
const HOT_START_LINE = 3
const HOT_END_LINE = 10
let hotFile: string

const retained: unknown[] = []
function pprofRetainingAllocator(count: number): void {
  for (let i = 0; i < count; i++) retained.push({ id: i, name: `pprof-record-${i}`, tags: [i, i + 1] })
}

interface Capture {
  meta: CaptureMeta
  body: Buffer
}

let root: string
let tripwire: TripwireController
let cpu: Capture & { profile: CpuProfile }
let heap: Capture & { profile: HeapProfile }

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-pprof-'))
  tripwire = createTripwire({
    service: 'checkout',
    sink: new LocalDiskSink({ dir: root }),
    limits: { cooldownMs: 0 },
  })
  const read = async (meta: CaptureMeta) => readFile(join(root, meta.fileName))

  hotFile = join(root, 'pprof-hot.mjs')
  await writeFile(hotFile, HOT_MODULE)
  const { pprofHotLoop } = (await import(pathToFileURL(hotFile).href)) as {
    pprofHotLoop: (ms: number) => number
  }
  const cpuHandle = await tripwire.start({ kind: 'cpu', durationMs: 5000 })
  pprofHotLoop(400)
  const cpuMeta = await cpuHandle.stop()
  assert.equal(cpuMeta.status, 'completed')
  const cpuBody = await read(cpuMeta)
  cpu = { meta: cpuMeta, body: cpuBody, profile: JSON.parse(cpuBody.toString()) as CpuProfile }

  const heapHandle = await tripwire.start({ kind: 'heap', durationMs: 5000 })
  pprofRetainingAllocator(200_000)
  const heapMeta = await heapHandle.stop()
  assert.equal(heapMeta.status, 'completed')
  const heapBody = await read(heapMeta)
  heap = { meta: heapMeta, body: heapBody, profile: JSON.parse(heapBody.toString()) as HeapProfile }
})
after(async () => {
  await tripwire.close()
  await rm(root, { recursive: true, force: true })
})

const decode = (gz: Buffer) => Profile.decode(gunzipSync(gz))
const text = (profile: Profile, index: number | bigint) => profile.stringTable.strings[Number(index)]
const sampleTypes = (profile: Profile) =>
  profile.sampleType.map((type) => `${text(profile, type.type)}/${text(profile, type.unit)}`)

/** The sum of one sample-type column, in BigInt so that nanosecond totals stay exact. */
function total(profile: Profile, column: number): bigint {
  return profile.sample.reduce((sum, sample) => sum + BigInt(sample.value[column] ?? 0), 0n)
}

/** The native profile's sampled time in µs, recomputed here from the raw timestamps (integers). */
function nativeSampledUs(profile: CpuProfile): bigint {
  const { samples = [], timeDeltas = [] } = profile
  let at = BigInt(profile.startTime)
  const stamps = timeDeltas.map((delta) => (at += BigInt(delta)))
  let sum = 0n
  stamps.forEach((stamp, index) => {
    const next = stamps[index + 1] ?? BigInt(profile.endTime)
    if (next > stamp) sum += next - stamp
  })
  assert.equal(stamps.length, samples.length)
  return sum
}

function functionNamed(profile: Profile, name: string) {
  return profile.function.find((fn) => text(profile, fn.name) === name)
}

/** Samples whose leaf frame is in the named function, summed per column. */
function leafTotals(profile: Profile, name: string): bigint[] {
  const fn = functionNamed(profile, name)
  assert.ok(fn !== undefined, `${name} is in the profile`)
  const locations = new Set(
    profile.location
      .filter((location) => location.line.some((line) => line.functionId === fn.id))
      .map((location) => Number(location.id)),
  )
  const sums = profile.sampleType.map(() => 0n)
  for (const sample of profile.sample) {
    if (!locations.has(Number(sample.locationId[0]))) continue
    sample.value.forEach((value, column) => (sums[column] = (sums[column] ?? 0n) + BigInt(value)))
  }
  return sums
}

function walkHeap(profile: HeapProfile, visit: (node: HeapProfileNode) => void): void {
  const pending = [profile.head]
  while (pending.length > 0) {
    const node = pending.pop()!
    visit(node)
    pending.push(...node.children)
  }
}

/** A CPU profile of flat stacks under (root): each leaf with its samples, one every `intervalUs`. */
function syntheticCpuProfile(
  leaves: { name: string; samples: number; positionTicks?: { line: number; ticks: number }[] }[],
  intervalUs = 1000,
): CpuProfile {
  const frame = (functionName: string, lineNumber = -1, url = '') => ({
    functionName,
    scriptId: '0',
    url,
    lineNumber,
    columnNumber: lineNumber < 0 ? -1 : 0,
  })
  const nodes: CpuProfile['nodes'] = [
    { id: 1, callFrame: frame('(root)'), children: leaves.map((_, index) => index + 2) },
  ]
  const samples: number[] = []
  leaves.forEach((leaf, index) => {
    const pseudo = leaf.name.startsWith('(')
    nodes.push({
      id: index + 2,
      callFrame: pseudo ? frame(leaf.name) : frame(leaf.name, 9, 'file:///srv/app/work.js'),
      hitCount: leaf.samples,
      ...(leaf.positionTicks !== undefined && { positionTicks: leaf.positionTicks }),
    })
    for (let i = 0; i < leaf.samples; i++) samples.push(index + 2)
  })
  return {
    nodes,
    startTime: 1_000_000,
    endTime: 1_000_000 + (samples.length + 1) * intervalUs,
    samples,
    timeDeltas: samples.map(() => intervalUs),
  }
}

/** Rejects with a TripwireError of this code, or the assertion fails. */
async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise
  } catch (error) {
    assert.ok(isTripwireError(error), `expected a TripwireError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    return error
  }
  assert.fail(`expected a rejection with ${code}`)
}

describe('CPU profile to pprof', () => {
  let decoded: Profile
  before(async () => {
    decoded = decode(await convertCapture(cpu.meta, cpu.body))
  })

  test('sample types, totals, period and times match the native profile exactly', () => {
    assert.deepEqual(sampleTypes(decoded), ['samples/count', 'cpu/nanoseconds'])
    const period = decoded.periodType
    assert.ok(period !== undefined)
    assert.equal(`${text(decoded, period.type)}/${text(decoded, period.unit)}`, 'cpu/nanoseconds')

    const samples = cpu.profile.samples?.length ?? 0
    assert.ok(samples > 50, `${samples} samples`)
    assert.equal(total(decoded, 0), BigInt(samples))
    assert.equal(total(decoded, 0), BigInt(cpu.meta.sampling?.samples ?? -1))
    assert.equal(total(decoded, 1), nativeSampledUs(cpu.profile) * 1000n)

    const spanNs = BigInt(cpu.profile.endTime - cpu.profile.startTime) * 1000n
    assert.equal(BigInt(decoded.durationNanos), spanNs)
    assert.equal(BigInt(decoded.timeNanos), BigInt(Date.parse(cpu.meta.startedAt)) * 1_000_000n)
    const effectiveUs = cpu.meta.sampling?.effectiveIntervalUs ?? 0
    assert.ok(Math.abs(Number(decoded.period) / 1000 - effectiveUs) < 1, `period ${decoded.period} ns`)
  })

  test("the hot function's name, file and lines survive, with its self samples exact", () => {
    const fn = functionNamed(decoded, 'pprofHotLoop')
    assert.ok(fn !== undefined, 'pprofHotLoop is a function of the profile')
    assert.equal(text(decoded, fn.filename), hotFile)
    assert.equal(Number(fn.startLine), HOT_START_LINE)

    // line-level locations: the loop's lines lie below the declaration
    const lines = decoded.location.flatMap((location) =>
      location.line.filter((line) => line.functionId === fn.id).map((line) => Number(line.line)),
    )
    assert.ok(
      lines.some((line) => line > HOT_START_LINE && line <= HOT_END_LINE),
      `lines ${lines.join(',')} inside the loop`,
    )

    // split across lines, the function's self samples and time still sum to the native ones
    const timeUs = new Map<number, number>()
    const counts = new Map<number, number>()
    const { samples = [], timeDeltas = [] } = cpu.profile
    let at = cpu.profile.startTime
    const stamps = timeDeltas.map((delta) => (at += delta))
    samples.forEach((id, index) => {
      const next = stamps[index + 1] ?? cpu.profile.endTime
      counts.set(id, (counts.get(id) ?? 0) + 1)
      timeUs.set(id, (timeUs.get(id) ?? 0) + Math.max(0, next - stamps[index]!))
    })
    let selfCount = 0
    let selfUs = 0
    for (const node of cpu.profile.nodes) {
      if (node.callFrame.functionName !== 'pprofHotLoop') continue
      selfCount += counts.get(node.id) ?? 0
      selfUs += timeUs.get(node.id) ?? 0
    }
    assert.ok(selfCount > 0)
    assert.deepEqual(leafTotals(decoded, 'pprofHotLoop'), [BigInt(selfCount), BigInt(selfUs) * 1000n])
  })

  test('(idle), (program) and (garbage collector) are kept as functions of their own', () => {
    const profile = syntheticCpuProfile([
      { name: '(idle)', samples: 6 },
      { name: '(program)', samples: 2 },
      { name: '(garbage collector)', samples: 1 },
      { name: 'work', samples: 3 },
    ])
    const pprof = Profile.decode(cpuProfileToPprof(profile).encode())
    assert.deepEqual(leafTotals(pprof, '(idle)'), [6n, 6_000_000n])
    assert.deepEqual(leafTotals(pprof, '(program)'), [2n, 2_000_000n])
    assert.deepEqual(leafTotals(pprof, '(garbage collector)'), [1n, 1_000_000n])
    assert.equal(total(pprof, 0), 12n)
    // the last sample lasts until endTime, as in the summary
    assert.equal(total(pprof, 1), 12_000_000n)
    assert.equal(BigInt(pprof.timeNanos), 0n, 'no start given, no start claimed')
  })

  test('positionTicks split a node into whole samples per line that sum to the node', () => {
    const profile = syntheticCpuProfile([
      {
        name: 'work',
        samples: 7,
        positionTicks: [
          { line: 11, ticks: 1 },
          { line: 12, ticks: 3 },
          { line: 14, ticks: 3 },
        ],
      },
    ])
    // uneven deltas, so that nanoseconds do not divide evenly
    profile.timeDeltas = [333, 1001, 17, 999, 250, 4000, 3]
    profile.endTime = profile.startTime + 333 + 1001 + 17 + 999 + 250 + 4000 + 3 + 777
    const pprof = Profile.decode(cpuProfileToPprof(profile).encode())
    const byLine = new Map<number, bigint[]>()
    for (const sample of pprof.sample) {
      const location = pprof.location.find((candidate) => candidate.id === sample.locationId[0])
      byLine.set(Number(location?.line[0]?.line), sample.value.map(BigInt))
    }
    assert.deepEqual([...byLine.keys()].sort(), [11, 12, 14])
    assert.equal(total(pprof, 0), 7n)
    assert.equal(total(pprof, 1), BigInt(1001 + 17 + 999 + 250 + 4000 + 3 + 777) * 1000n)
    assert.deepEqual(byLine.get(11)?.[0], 1n)
    assert.deepEqual(byLine.get(12)?.[0], 3n)
  })
})

describe('heap profile to pprof', () => {
  let decoded: Profile
  before(async () => {
    decoded = decode(await convertCapture(heap.meta, heap.body))
  })

  test('inuse_space totals equal the native selfSize sum; sampled allocations are counted', () => {
    let selfSize = 0
    walkHeap(heap.profile, (node) => (selfSize += node.selfSize))
    assert.ok(selfSize > 0)
    const types = sampleTypes(decoded)
    assert.equal(types.at(-1), 'inuse_space/bytes', 'the default (last) type is the bytes')
    assert.equal(total(decoded, types.length - 1), BigInt(selfSize))
    if (heap.profile.samples !== undefined) {
      assert.deepEqual(types, ['samples/count', 'inuse_space/bytes'])
      assert.equal(total(decoded, 0), BigInt(heap.profile.samples.length))
    }
    assert.equal(Number(decoded.period), 32_768)
    assert.equal(BigInt(decoded.timeNanos), BigInt(Date.parse(heap.meta.startedAt)) * 1_000_000n)
  })

  test("the allocating function's name, file and line survive", () => {
    const fn = functionNamed(decoded, 'pprofRetainingAllocator')
    assert.ok(fn !== undefined)
    assert.equal(text(decoded, fn.filename), THIS_FILE)
    let native: HeapProfileNode | undefined
    walkHeap(heap.profile, (node) => {
      if (node.callFrame.functionName === 'pprofRetainingAllocator') native = node
    })
    assert.equal(Number(fn.startLine), (native?.callFrame.lineNumber ?? -2) + 1)
    const [bytes] = leafTotals(decoded, 'pprofRetainingAllocator').slice(-1)
    assert.ok(bytes !== undefined && bytes > BigInt(1024 * 1024), `${bytes} bytes`)
  })

  test('without a samples list there is only inuse_space', () => {
    const bare = { head: heap.profile.head }
    const pprof = Profile.decode(heapProfileToPprof(bare, 65_536).encode())
    assert.deepEqual(sampleTypes(pprof), ['inuse_space/bytes'])
    assert.equal(Number(pprof.period), 65_536)
  })
})

describe('convertCapture', () => {
  test('a heap snapshot has no pprof form', async () => {
    const meta = { ...cpu.meta, kind: 'heapsnapshot' as const }
    const error = await rejectsWithCode(
      convertCapture(meta, Buffer.from('{}')),
      ErrorCodes.FORMAT_UNAVAILABLE,
    )
    assert.match(error.message, /no pprof form/)
  })

  test('a body over the size bound is refused before parsing', async () => {
    await rejectsWithCode(
      convertCapture(cpu.meta, cpu.body, { maxBytes: cpu.body.length - 1 }),
      ErrorCodes.PROFILE_TOO_LARGE,
    )
  })

  test('a body of the wrong kind is refused, not half converted', async () => {
    await rejectsWithCode(convertCapture(cpu.meta, heap.body), ErrorCodes.INTERNAL)
    await rejectsWithCode(convertCapture(heap.meta, Buffer.from('not json')), ErrorCodes.INTERNAL)
  })
})

describe('apportion', () => {
  test('parts are whole, proportional and sum to the total exactly', () => {
    assert.deepEqual(apportion(7, [1, 3, 3]), [1, 3, 3])
    assert.deepEqual(apportion(10, [1, 1, 1]), [4, 3, 3])
    assert.deepEqual(apportion(5, [0, 0]), [5, 0])
    const big = 299_999_999_999_997
    const parts = apportion(big, [3, 5, 7, 11])
    assert.equal(
      parts.reduce((sum, part) => sum + part, 0),
      big,
    )
  })
})

describe('go tool pprof', () => {
  test('reads what we wrote and names the hot function and the allocator', async (t) => {
    const go = findOnPath('go')
    if (go === undefined) {
      return t.skip('go is not installed (Debian package golang-go); the decode test above covers the format')
    }
    const dir = await mkdtemp(join(root, 'go-'))
    const cpuFile = join(dir, 'cpu.pb.gz')
    const heapFile = join(dir, 'heap.pb.gz')
    await writeFile(cpuFile, await encodePprofGzip(cpuProfileToPprof(cpu.profile)))
    await writeFile(heapFile, await convertCapture(heap.meta, heap.body))
    const run = promisify(execFile)
    const env = { ...process.env, PPROF_TMPDIR: dir, HOME: process.env.HOME ?? dir }
    const cpuTop = await run(go, ['tool', 'pprof', '-top', '-nodecount=5', cpuFile], { env })
    assert.match(cpuTop.stdout, /pprofHotLoop/, cpuTop.stdout + cpuTop.stderr)
    const heapTop = await run(go, ['tool', 'pprof', '-top', '-nodecount=5', heapFile], { env })
    assert.match(heapTop.stdout, /pprofRetainingAllocator/, heapTop.stdout + heapTop.stderr)
    assert.match(heapTop.stdout, /inuse_space/)
  })
})

/** Serves fixed captures and records which bodies were opened. */
class FixedSink implements Sink {
  readonly opened: string[] = []
  constructor(private readonly captures: Map<string, Capture>) {}
  async put(): Promise<void> {}
  async getMeta(id: string): Promise<CaptureMeta | undefined> {
    return this.captures.get(id)?.meta
  }
  async get(id: string): Promise<StoredCapture | undefined> {
    const capture = this.captures.get(id)
    if (capture === undefined) return undefined
    this.opened.push(id)
    return { meta: capture.meta, body: Readable.from([capture.body]) }
  }
  async list(): Promise<SinkListPage> {
    return { items: [] }
  }
  async delete(): Promise<boolean> {
    return false
  }
}

describe('admin API ?format=pprof', () => {
  const SNAPSHOT_ID = '20261121T223301Z-heapsnapshot-3f9a1c0e'
  const LARGE_ID = '20261121T223301Z-cpu-0123abcd'
  let sink: FixedSink
  let controller: TripwireController
  let server: Server
  let base: string
  before(async () => {
    const snapshot = Buffer.from('{"snapshot":{}}')
    const maxProfileBytes = Math.max(cpu.body.length, heap.body.length)
    const large = Buffer.alloc(maxProfileBytes + 1)
    sink = new FixedSink(
      new Map<string, Capture>([
        [cpu.meta.id, cpu],
        [heap.meta.id, heap],
        [
          SNAPSHOT_ID,
          { meta: { ...cpu.meta, id: SNAPSHOT_ID, kind: 'heapsnapshot', bytes: 15 }, body: snapshot },
        ],
        [LARGE_ID, { meta: { ...cpu.meta, id: LARGE_ID, bytes: large.length }, body: large }],
      ]),
    )
    controller = createTripwire({
      service: 'checkout',
      sink,
      admin: { authorize: () => true },
      limits: { maxProfileBytes },
    })
    const handler = createAdminHandler(controller)
    server = createServer((req, res) => void handler(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/_tripwire/captures`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await controller.close()
  })

  for (const kind of ['cpu', 'heap'] as const) {
    test(`a ${kind} capture downloads as <id>.pb.gz with the native totals`, async () => {
      const capture = kind === 'cpu' ? cpu : heap
      const response = await fetch(`${base}/${capture.meta.id}/profile?format=pprof`)
      assert.equal(response.status, 200)
      assert.equal(response.headers.get('content-type'), 'application/octet-stream')
      assert.equal(response.headers.get('content-encoding'), null)
      assert.equal(
        response.headers.get('content-disposition'),
        `attachment; filename="${capture.meta.id}.pb.gz"`,
      )
      const gz = Buffer.from(await response.arrayBuffer())
      assert.equal(Number(response.headers.get('content-length')), gz.length)
      assert.deepEqual(gz.subarray(0, 2), Buffer.from([0x1f, 0x8b]), 'gzip magic')
      const decoded = decode(gz)
      if (kind === 'cpu') {
        assert.equal(total(decoded, 0), BigInt(cpu.profile.samples?.length ?? -1))
        assert.equal(total(decoded, 1), nativeSampledUs(cpu.profile) * 1000n)
      } else {
        let selfSize = 0
        walkHeap(heap.profile, (node) => (selfSize += node.selfSize))
        assert.equal(total(decoded, decoded.sampleType.length - 1), BigInt(selfSize))
      }
    })
  }

  test('a heap snapshot is 406 FORMAT_UNAVAILABLE, and its body is never opened', async () => {
    const response = await fetch(`${base}/${SNAPSHOT_ID}/profile?format=pprof`)
    assert.equal(response.status, 406)
    const { error } = (await response.json()) as { error: { code: string; message: string } }
    assert.equal(error.code, ErrorCodes.FORMAT_UNAVAILABLE)
    assert.match(error.message, /no pprof form/)
    assert.ok(!sink.opened.includes(SNAPSHOT_ID))
  })

  test('a capture over limits.maxProfileBytes is refused before its body is read', async () => {
    const response = await fetch(`${base}/${LARGE_ID}/profile?format=pprof`)
    assert.equal(response.status, 400)
    const { error } = (await response.json()) as { error: { code: string } }
    assert.equal(error.code, ErrorCodes.PROFILE_TOO_LARGE)
    assert.ok(!sink.opened.includes(LARGE_ID))
  })
})

describe('renderTop', () => {
  test('a mostly idle capture is called what it is: waiting, not CPU', () => {
    const profile = syntheticCpuProfile([
      { name: '(idle)', samples: 80 },
      { name: 'parseBody', samples: 15 },
      { name: '(program)', samples: 5 },
    ])
    const output = renderTop(profile, 'cpu')
    assert.match(output, /mostly idle: the time went to I\/O or waiting, not CPU/)
    assert.match(output, /idle 80\.0 %/)
    assert.match(output, /program 5\.0 %/)
    assert.doesNotMatch(output, /CPU-bound/)
    assert.match(output, /parseBody \(\/srv\/app\/work\.js:10\)/)
  })

  test('heavy garbage collection is flagged', () => {
    const profile = syntheticCpuProfile([
      { name: '(garbage collector)', samples: 30 },
      { name: 'buildObjects', samples: 70 },
    ])
    assert.match(renderTop(summarizeCpuProfile(profile), 'cpu'), /GC pressure: 30\.0 %/)
  })

  test('a CPU-bound capture names the hot function first', () => {
    const output = renderTop(cpu.profile, 'cpu', { limit: 5 })
    const rows = output.split('\n')
    const header = rows.findIndex((row) => row.includes('self %'))
    assert.ok(header >= 0, output)
    assert.match(rows[header + 1] ?? '', /pprofHotLoop \(.*pprof-hot\.mjs:3\)/, output)
    assert.match(output, /CPU-bound: the hottest function is pprofHotLoop/)
    assert.ok(rows.length <= header + 1 + 5 + 3, 'at most five functions')
  })

  test('a heap profile shows bytes per function', () => {
    const output = renderTop(heap.profile, 'heap', { limit: 3 })
    assert.match(output, /self bytes/)
    assert.match(output, /pprofRetainingAllocator/)
    assert.match(output, /\d+(\.\d)? (MiB|KiB)/)
  })

  test('topFunctions keeps the limit and gives shares', () => {
    const rows = topFunctions(summarizeCpuProfile(cpu.profile), { limit: 2 })
    assert.ok(rows.length <= 2)
    assert.equal(rows[0]?.functionName, 'pprofHotLoop')
    assert.ok((rows[0]?.selfShare ?? 0) > 0.5)
    assert.throws(() => topFunctions(summarizeCpuProfile(cpu.profile), { limit: 0 }), /positive integer/)
  })
})

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, command)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}
