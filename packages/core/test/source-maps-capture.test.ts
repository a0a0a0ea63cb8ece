import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import {
  createTripwire,
  LocalDiskSink,
  type CaptureMeta,
  type CpuProfile,
  type HeapProfile,
  type HeapProfileNode,
} from '../src/index.js'
import { mapCpuProfile, mapHeapProfile } from '../src/source-maps/map-profile.js'
import { SourceMapCache } from '../src/source-maps/source-map-cache.js'
// types only: the test imports the JS it compiles from these at run time
import type * as AllocatorFixture from './fixtures/ts-service/src/allocator.js'
import type * as HotLoopFixture from './fixtures/ts-service/src/hot-loop.js'

type HotLoopModule = typeof HotLoopFixture
type AllocatorModule = typeof AllocatorFixture
interface PlainModule {
  plainFixtureSpin(ms: number): number
}

const fixtureSrc = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ts-service', 'src')
const hotLoopTs = join(fixtureSrc, 'hot-loop.ts')
const allocatorTs = join(fixtureSrc, 'allocator.ts')

let root: string
let dist: string
let profilesDir: string
let hotLoop: HotLoopModule
let allocator: AllocatorModule
let plain: PlainModule

/** Compiles one fixture file the way `tsc` would, with the given source map style. */
function compile(file: string, maps: { sourceMap: true } | { inlineSourceMap: true }): void {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    strict: true,
    skipLibCheck: true,
    rootDir: fixtureSrc,
    outDir: dist,
    ...maps,
  })
  const result = program.emit()
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics]
  assert.deepEqual(
    diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    [],
    'the fixture compiles cleanly',
  )
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-ts-service-'))
  dist = join(root, 'dist')
  profilesDir = join(root, 'profiles')
  await mkdir(dist, { recursive: true })
  await writeFile(join(dist, 'package.json'), JSON.stringify({ type: 'module' }))
  compile(hotLoopTs, { sourceMap: true })
  compile(allocatorTs, { inlineSourceMap: true })
  // plain JS with no map at all: its frames must come out as they went in
  await writeFile(
    join(dist, 'plain.js'),
    [
      'export function plainFixtureSpin(ms) {',
      '  const end = performance.now() + ms',
      '  let x = 0',
      '  while (performance.now() < end) for (let i = 0; i < 1000; i++) x += Math.cos(i + x)',
      '  return x',
      '}',
      '',
    ].join('\n'),
  )
  hotLoop = (await import(pathToFileURL(join(dist, 'hot-loop.js')).href)) as HotLoopModule
  allocator = (await import(pathToFileURL(join(dist, 'allocator.js')).href)) as AllocatorModule
  plain = (await import(pathToFileURL(join(dist, 'plain.js')).href)) as PlainModule
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** 0-based first and last line of a top-level function in a .ts file, found by its declaration text. */
async function functionLines(file: string, declaration: string): Promise<{ first: number; last: number }> {
  const lines = (await readFile(file, 'utf8')).split('\n')
  const first = lines.findIndex((line) => line.startsWith(declaration))
  assert.ok(first >= 0, `${declaration} is in ${file}`)
  const last = lines.findIndex((line, index) => index > first && line === '}')
  assert.ok(last > first)
  return { first, last }
}

async function capture<Profile>(
  kind: 'cpu' | 'heap',
  work: () => void | Promise<void>,
): Promise<{ meta: CaptureMeta; profile: Profile }> {
  const tripwire = createTripwire({
    service: 'ts-service',
    version: '1.0.0',
    sink: new LocalDiskSink({ dir: profilesDir }),
    limits: { cooldownMs: 0 },
  })
  try {
    const handle = await tripwire.start(
      kind === 'cpu' ? { kind, durationMs: 10_000, samplingIntervalUs: 500 } : { kind, durationMs: 10_000 },
    )
    await work()
    const meta = await handle.stop()
    assert.equal(meta.status, 'completed')
    const profile = JSON.parse(await readFile(join(profilesDir, meta.fileName), 'utf8')) as Profile
    return { meta, profile }
  } finally {
    await tripwire.close()
  }
}

describe('source maps on real captures of a compiled TypeScript service', () => {
  test('a CPU capture points the hot function at its .ts line, with tick lines inside the function', async () => {
    const { profile } = await capture<CpuProfile>('cpu', () => {
      hotLoop.computeFixtureHotLoop({ durationMs: 400, batch: 5000 })
      plain.plainFixtureSpin(150)
    })
    const before = JSON.stringify(profile)
    const { profile: mapped, frames } = await mapCpuProfile(profile, new SourceMapCache({ roots: [dist] }))
    assert.equal(JSON.stringify(profile), before, 'the captured profile is not modified')
    assert.equal(mapped.nodes.length, profile.nodes.length)
    assert.ok(frames.mapped > 0, `mapped ${frames.mapped} of ${frames.total} frames`)
    assert.ok(frames.total > frames.mapped, 'node internals and the plain script stay unmapped')

    const hotJs = pathToFileURL(join(dist, 'hot-loop.js')).href
    const hotLines = await functionLines(hotLoopTs, 'export function computeFixtureHotLoop(')
    const hotNodes = [...mapped.nodes.entries()].filter(
      ([, node]) => node.callFrame.functionName === 'computeFixtureHotLoop',
    )
    assert.ok(hotNodes.length > 0, 'the hot function was sampled')
    let ticks = 0
    for (const [index, node] of hotNodes) {
      assert.equal(node.callFrame.url, pathToFileURL(hotLoopTs).href)
      assert.equal(node.callFrame.lineNumber, hotLines.first)
      for (const tick of node.positionTicks ?? []) {
        ticks += tick.ticks
        assert.ok(
          tick.line >= hotLines.first + 1 && tick.line <= hotLines.last + 1,
          `tick line ${tick.line} lies in computeFixtureHotLoop (${hotLines.first + 1}–${hotLines.last + 1})`,
        )
      }
      const sum = (node: CpuProfile['nodes'][number] | undefined) =>
        (node?.positionTicks ?? []).reduce((total, tick) => total + tick.ticks, 0)
      assert.equal(sum(node), sum(profile.nodes[index]), 'mapping keeps every tick')
    }
    assert.ok(ticks > 0)
    assert.ok(
      !mapped.nodes.some((node) => node.callFrame.url === hotJs),
      'no frame points at the compiled JS',
    )

    // the generated position really differs: the erased types above the function move it up in the JS
    const original = profile.nodes.find((node) => node.callFrame.functionName === 'computeFixtureHotLoop')
    assert.equal(original?.callFrame.url, hotJs)
    assert.notEqual(original.callFrame.lineNumber, hotLines.first)

    let internals = 0
    let plainFrames = 0
    for (const [index, node] of profile.nodes.entries()) {
      const url = node.callFrame.url
      const isPlain = url === pathToFileURL(join(dist, 'plain.js')).href
      if (!url.startsWith('node:') && !isPlain) continue
      if (isPlain) plainFrames++
      else internals++
      assert.deepEqual(mapped.nodes[index], node, `${node.callFrame.functionName} ${url} is left as it was`)
    }
    assert.ok(internals > 0, 'the profile has node: frames')
    assert.ok(plainFrames > 0, 'the plain script was sampled')
  })

  test('a heap capture points the allocating function at its .ts line (inline map)', async () => {
    let profile: HeapProfile
    try {
      // from a setImmediate callback, so the allocating stacks start in node:internal/timers
      ;({ profile } = await capture<HeapProfile>(
        'heap',
        () =>
          new Promise((resolve) =>
            setImmediate(() => resolve(void allocator.allocateFixtureRecords(200_000))),
          ),
      ))
    } finally {
      allocator.releaseFixtureRecords()
    }
    const { profile: mapped, frames } = await mapHeapProfile(profile, new SourceMapCache({ roots: [dist] }))
    assert.ok(frames.mapped > 0, `mapped ${frames.mapped} of ${frames.total} frames`)

    const allocLines = await functionLines(allocatorTs, 'export function allocateFixtureRecords(')
    const allocatorJs = pathToFileURL(join(dist, 'allocator.js')).href
    const found: HeapProfileNode[] = []
    let internals = 0
    // both trees have one shape: walk them side by side
    const stack: [HeapProfileNode, HeapProfileNode][] = [[profile.head, mapped.head]]
    for (let pair = stack.pop(); pair !== undefined; pair = stack.pop()) {
      const [input, output] = pair
      assert.equal(output.children.length, input.children.length)
      if (output.callFrame.functionName === 'allocateFixtureRecords') found.push(output)
      assert.notEqual(output.callFrame.url, allocatorJs)
      if (input.callFrame.url !== allocatorJs) {
        // node: internals, this test file (outside the roots), V8's (root)
        if (input.callFrame.url.startsWith('node:')) internals++
        assert.deepEqual(output.callFrame, input.callFrame)
      }
      input.children.forEach((child, index) => stack.push([child, output.children[index]!]))
    }
    assert.ok(internals > 0, 'the profile has node: frames')
    assert.ok(found.length > 0, 'the allocating function has samples')
    for (const node of found) {
      assert.equal(node.callFrame.url, pathToFileURL(allocatorTs).href)
      assert.equal(node.callFrame.lineNumber, allocLines.first)
    }
    assert.ok(found.some((node) => node.selfSize > 0))
  })
})
