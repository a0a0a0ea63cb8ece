import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import type { CpuProfile, HeapProfile, HeapProfileNode } from '../src/index.js'
import { jsonRecording } from '../src/recorders/recorder.js'
import { mapCpuProfile, mapHeapProfile } from '../src/source-maps/map-profile.js'
import { mapRecording } from '../src/source-maps/map-recording.js'
import { SourceMapCache, type SourceMapLookup } from '../src/source-maps/source-map-cache.js'

let root: string
let dist: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tripwire-source-maps-'))
  dist = join(root, 'app', 'dist')
  await mkdir(join(dist, 'maps'), { recursive: true })
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

// --- a hand-made map, encoded here so that every expected position is known exactly ---

type Segment = [number] | [number, number, number, number] | [number, number, number, number, number]

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function vlq(value: number): string {
  let rest = value < 0 ? (-value << 1) | 1 : value << 1
  let out = ''
  do {
    const digit = rest & 31
    rest >>>= 5
    out += BASE64[rest > 0 ? digit | 32 : digit]
  } while (rest > 0)
  return out
}

/** Source map v3 `mappings` from absolute segments [genColumn, source, line, column, name] (all 0-based). */
function encodeMappings(lines: Segment[][]): string {
  const last = { source: 0, line: 0, column: 0, name: 0 }
  return lines
    .map((segments) => {
      let genColumn = 0
      return segments
        .map((segment) => {
          let out = vlq(segment[0] - genColumn)
          genColumn = segment[0]
          if (segment.length === 1) return out
          const [, source, line, column] = segment
          out += vlq(source - last.source) + vlq(line - last.line) + vlq(column - last.column)
          Object.assign(last, { source, line, column })
          if (segment.length === 5) {
            out += vlq(segment[4] - last.name)
            last.name = segment[4]
          }
          return out
        })
        .join(',')
    })
    .join(';')
}

/**
 * The generated script, line by line (0-based):
 * 0  // generated                         no segments
 * 1  function hot() {                     col 0 → app.ts 10:0, col 9 → 10:16 "hotOriginal", col 12 → 10:19
 * 2    let x = 0                          col 2 → app.ts 11:2
 * 3    x++                                col 0 → other.ts 5:0 (inlined from elsewhere), col 2 → app.ts 12:4
 * 4    return x }                         col 2 → app.ts 12:2 (same original line as line 3)
 * 5  helper()                             no segments (an emitted helper)
 * 6  const anon = function () {}          col 13 → app.ts 20:13 "namedInMap"
 */
const SCRIPT_LINES = [
  '// generated',
  'function hot() {',
  '  let x = 0',
  '  x++',
  '  return x }',
  'helper()',
  'const anon = function () {}',
]
const MAPPINGS: Segment[][] = [
  [],
  [
    [0, 0, 10, 0],
    [9, 0, 10, 16, 0],
    [12, 0, 10, 19],
  ],
  [[2, 0, 11, 2]],
  [
    [0, 1, 5, 0],
    [2, 0, 12, 4],
  ],
  [[2, 0, 12, 2]],
  [],
  [[13, 0, 20, 13, 1]],
]

function handMadeMap(extra: object = {}): object {
  return {
    version: 3,
    file: 'app.js',
    sources: ['../src/app.ts', '../src/other.ts'],
    names: ['hotOriginal', 'namedInMap'],
    mappings: encodeMappings(MAPPINGS),
    ...extra,
  }
}

function base64Json(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64')
}

async function writeScript(name: string, trailer?: string): Promise<string> {
  const path = join(dist, name)
  await writeFile(path, [...SCRIPT_LINES, ...(trailer === undefined ? [] : [trailer])].join('\n') + '\n')
  return pathToFileURL(path).href
}

const frame = (url: string, functionName: string, lineNumber: number, columnNumber: number) => ({
  functionName,
  scriptId: '42',
  url,
  lineNumber,
  columnNumber,
})

/** A lookup that always answers with this map, synchronously resolved (no I/O to hide the mapper's yields). */
function fixedLookup(maps: Record<string, Awaited<ReturnType<SourceMapLookup['get']>>>): SourceMapLookup {
  return { get: (url) => Promise.resolve(maps[url]) }
}

describe('SourceMapCache', () => {
  test('follows a sourceMappingURL comment to a map file and resolves sources against it', async () => {
    await writeFile(
      join(dist, 'maps', 'linked.map'),
      JSON.stringify(handMadeMap({ sources: ['../../src/app.ts'] })),
    )
    const url = await writeScript('linked.js', '//# sourceMappingURL=maps/linked.map')
    const map = await new SourceMapCache({ roots: [root] }).get(url)
    assert.ok(map)
    assert.deepEqual(map.resolvedSources[0], pathToFileURL(join(root, 'app', 'src', 'app.ts')).href)
  })

  test('reads inline maps (base64, with or without a charset) and applies sourceRoot', async () => {
    const cache = new SourceMapCache({ roots: [root] })
    const plain = await writeScript(
      'inline.js',
      `//# sourceMappingURL=data:application/json;base64,${base64Json(handMadeMap())}`,
    )
    const charset = await writeScript(
      'inline-charset.js',
      `//# sourceMappingURL=data:application/json;charset=utf-8;base64,${base64Json(
        handMadeMap({ sourceRoot: 'file:///project/', sources: ['src/app.ts'] }),
      )}`,
    )
    assert.equal(
      (await cache.get(plain))?.resolvedSources[0],
      pathToFileURL(join(root, 'app', 'src', 'app.ts')).href,
    )
    assert.equal((await cache.get(charset))?.resolvedSources[0], 'file:///project/src/app.ts')
  })

  test('finds an inline map longer than the tail it reads first', async () => {
    const big = handMadeMap({ sourcesContent: ['x'.repeat(300_000), null] })
    const url = await writeScript(
      'inline-big.js',
      `//# sourceMappingURL=data:application/json;base64,${base64Json(big)}`,
    )
    assert.ok(await new SourceMapCache({ roots: [root] }).get(url))
  })

  test('falls back to <script>.map beside a script without a comment; plain paths work too', async () => {
    await writeScript('beside.js')
    await writeFile(join(dist, 'beside.js.map'), JSON.stringify(handMadeMap()))
    const cache = new SourceMapCache({ roots: [root] })
    assert.ok(await cache.get(pathToFileURL(join(dist, 'beside.js')).href))
    assert.ok(await cache.get(join(dist, 'beside.js')))
  })

  test('answers undefined, and caches it, for scripts without a map or outside the roots; never rejects', async () => {
    const noMap = await writeScript('no-map.js')
    await writeFile(join(dist, 'broken.js.map'), '{ not json')
    const broken = await writeScript('broken.js')
    const escapes = await writeScript('escapes.js', '//# sourceMappingURL=../../outside.map')
    await writeFile(join(root, 'outside.map'), JSON.stringify(handMadeMap()))
    await writeFile(join(dist, 'outside-roots.js.map'), JSON.stringify(handMadeMap()))
    const outsideRoots = await writeScript('outside-roots.js')

    const cache = new SourceMapCache({ roots: [join(root, 'app')] })
    for (const url of [
      noMap,
      broken,
      escapes,
      pathToFileURL(join(root, 'missing.js')).href,
      'node:internal/timers',
      '',
      'https://example.com/app.js',
      'evalmachine.<anonymous>',
      'file://not-a-local-host/x.js',
    ]) {
      assert.equal(await cache.get(url), undefined, url)
    }
    assert.equal(await new SourceMapCache({ roots: [join(root, 'elsewhere')] }).get(outsideRoots), undefined)
    assert.ok(await new SourceMapCache({ roots: [root] }).get(outsideRoots))
    assert.ok(
      await new SourceMapCache({ roots: [root] }).get(escapes),
      'the map is readable once inside the roots',
    )
    assert.equal(cache.stats().withMap, 0)
    assert.ok(cache.stats().entries >= 3)
  })

  test('skips scripts over maxScriptBytes and maps over maxMapBytes', async () => {
    const url = await writeScript(
      'capped.js',
      `//# sourceMappingURL=data:application/json;base64,${base64Json(handMadeMap())}`,
    )
    assert.equal(await new SourceMapCache({ roots: [root], maxScriptBytes: 100 }).get(url), undefined)
    assert.equal(await new SourceMapCache({ roots: [root], maxMapBytes: 100 }).get(url), undefined)
  })

  test('parses each script once, concurrent lookups included, and keeps at most maxEntries', async () => {
    const urls = await Promise.all(
      ['lru-a.js', 'lru-b.js', 'lru-c.js'].map((name) =>
        writeScript(name, `//# sourceMappingURL=data:application/json;base64,${base64Json(handMadeMap())}`),
      ),
    )
    const cache = new SourceMapCache({ roots: [root], maxEntries: 2 })
    const [first, second] = await Promise.all([cache.get(urls[0]!), cache.get(urls[0]!)])
    assert.ok(first)
    assert.equal(first, second)
    assert.equal(await cache.get(urls[0]!), first)
    await cache.get(urls[1]!)
    await cache.get(urls[2]!)
    assert.equal(cache.stats().entries, 2)
    assert.notEqual(await cache.get(urls[0]!), first, 'the least recently used entry was evicted')
  })
})

describe('mapCpuProfile', () => {
  test('maps frames and tick lines exactly, and leaves the input and unmapped frames alone', async () => {
    const url = await writeScript('exact.js', '//# sourceMappingURL=maps/exact.map')
    await writeFile(
      join(dist, 'maps', 'exact.map'),
      JSON.stringify(handMadeMap({ sources: ['../../src/app.ts', '../../src/other.ts'] })),
    )
    const appTs = pathToFileURL(join(root, 'app', 'src', 'app.ts')).href
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('', '(root)', -1, -1), children: [2, 4, 5, 6] },
        {
          id: 2,
          callFrame: frame(url, 'hot', 1, 12),
          hitCount: 15,
          children: [3],
          positionTicks: [
            { line: 2, ticks: 1 },
            { line: 3, ticks: 2 },
            { line: 4, ticks: 3 },
            { line: 5, ticks: 4 },
            { line: 6, ticks: 5 },
          ],
        },
        { id: 3, callFrame: frame(url, '', 6, 22), hitCount: 1, positionTicks: [{ line: 7, ticks: 1 }] },
        { id: 4, callFrame: frame(url, 'helper', 5, 0), hitCount: 2, positionTicks: [{ line: 6, ticks: 2 }] },
        { id: 5, callFrame: frame('node:internal/timers', 'listOnTimeout', 500, 24), hitCount: 1 },
        { id: 6, callFrame: frame(url, 'hot', 1, 12), hitCount: 0 },
      ],
      startTime: 0,
      endTime: 100,
      samples: [2, 2, 3],
      timeDeltas: [1, 1, 1],
    }
    const before = structuredClone(profile)
    const cache = new SourceMapCache({ roots: [root] })
    const { profile: mapped, frames } = await mapCpuProfile(profile, cache)

    assert.deepEqual(profile, before, 'the input is not modified')
    const [rootNode, hot, anon, helper, internal, hotAgain] = mapped.nodes
    assert.deepEqual(hot?.callFrame, frame(appTs, 'hot', 10, 19), 'the runtime name wins over the map name')
    assert.deepEqual(hot?.positionTicks, [
      { line: 11, ticks: 6 },
      { line: 12, ticks: 2 },
      { line: 13, ticks: 7 },
    ])
    assert.deepEqual(hotAgain?.callFrame, hot?.callFrame)
    assert.deepEqual(
      anon?.callFrame,
      frame(appTs, 'namedInMap', 20, 13),
      'the map names an anonymous function',
    )
    assert.deepEqual(anon?.positionTicks, [{ line: 21, ticks: 1 }])
    assert.deepEqual(helper, before.nodes[3], 'a position the map does not cover stays as it is')
    assert.deepEqual(internal, before.nodes[4])
    assert.deepEqual(rootNode, before.nodes[0])
    assert.deepEqual(frames, { total: 5, mapped: 2 })
    assert.deepEqual(mapped.samples, profile.samples)
    assert.equal(mapped.startTime, 0)
    assert.equal(mapped.endTime, 100)
  })

  test('yields to the event loop while mapping a large profile', async () => {
    const url = 'file:///big/app.js'
    const map = await (async () => {
      const script = await writeScript(
        'yield.js',
        `//# sourceMappingURL=data:application/json;base64,${base64Json(handMadeMap())}`,
      )
      return new SourceMapCache({ roots: [root] }).get(script)
    })()
    const nodeCount = 20_000
    const nodes: CpuProfile['nodes'] = Array.from({ length: nodeCount }, (_, index) => ({
      id: index + 1,
      callFrame: frame(url, `f${index}`, 1, 12),
      hitCount: 1,
      positionTicks: [{ line: 3, ticks: 1 }],
    }))
    // Mapping yields after each slice of a few milliseconds: count the turns the loop takes meanwhile, and the
    // longest stretch it is held (loosely bounded: a busy machine stretches a slice)
    let turns = 0
    let ticking = true
    let last = performance.now()
    let longestHoldMs = 0
    const tick = () => {
      turns++
      const now = performance.now()
      longestHoldMs = Math.max(longestHoldMs, now - last)
      last = now
      if (ticking) setImmediate(tick)
    }
    setImmediate(tick)
    const started = performance.now()
    const { frames } = await mapCpuProfile({ nodes, startTime: 0, endTime: 1 }, fixedLookup({ [url]: map }))
    const tookMs = performance.now() - started
    ticking = false
    assert.deepEqual(frames, { total: nodeCount, mapped: nodeCount })
    assert.ok(turns >= 2, `the loop turned ${turns} times in ${tookMs.toFixed(1)} ms of mapping`)
    assert.ok(longestHoldMs < 100, `the loop was held for ${longestHoldMs.toFixed(1)} ms at a stretch`)
  })
})

describe('mapHeapProfile', () => {
  test('maps a deep tree without recursion, keeping its shape, and leaves the input alone', async () => {
    const script = await writeScript(
      'heap.js',
      `//# sourceMappingURL=data:application/json;base64,${base64Json(handMadeMap())}`,
    )
    const appTs = pathToFileURL(join(root, 'app', 'src', 'app.ts')).href
    // deep enough that a recursive walk (or assert.deepEqual) would overflow the stack
    const depth = 50_000
    const scriptFrame = () => frame(script, 'hot', 1, 12)
    const internalFrame = () => frame('node:fs', 'readFileSync', 10, 4)
    const head: HeapProfileNode = { callFrame: frame('', '(root)', -1, -1), selfSize: 0, id: 1, children: [] }
    let parent = head
    for (let id = 2; id <= depth; id++) {
      const node: HeapProfileNode = {
        callFrame: id % 2 === 0 ? scriptFrame() : internalFrame(),
        selfSize: id,
        id,
        children: [],
      }
      parent.children.push(node)
      parent = node
    }
    head.children.push({ callFrame: frame(script, '', 6, 22), selfSize: 7, id: depth + 1, children: [] })
    const profile: HeapProfile = { head, samples: [{ size: 7, nodeId: depth + 1, ordinal: 1 }] }

    const { profile: mapped, frames } = await mapHeapProfile(profile, new SourceMapCache({ roots: [root] }))
    assert.deepEqual(frames, { total: 4, mapped: 2 })
    assert.deepEqual(mapped.samples, profile.samples)
    assert.equal(mapped.head.children.length, 2, 'siblings keep their order')
    assert.deepEqual(mapped.head.children[1]?.callFrame, frame(appTs, 'namedInMap', 20, 13))

    const chain = (from: HeapProfileNode) => {
      const nodes: HeapProfileNode[] = []
      for (let node = from.children[0]; node !== undefined; node = node.children[0]) nodes.push(node)
      return nodes
    }
    const mappedChain = chain(mapped.head)
    const inputChain = chain(head)
    assert.equal(mappedChain.length, depth - 1)
    for (const [index, node] of mappedChain.entries()) {
      const expected = node.id % 2 === 0 ? frame(appTs, 'hot', 10, 19) : internalFrame()
      assert.deepEqual(node.callFrame, expected)
      assert.equal(node.selfSize, node.id)
      const input = inputChain[index]!
      assert.deepEqual(
        input.callFrame,
        input.id % 2 === 0 ? scriptFrame() : internalFrame(),
        'input untouched',
      )
      assert.notEqual(node, input)
    }
  })
})

describe('mapRecording', () => {
  test('re-serialises a mapped CPU recording, and keeps the raw one when it cannot do better', async () => {
    const script = await writeScript(
      'recording.js',
      `//# sourceMappingURL=data:application/json;base64,${base64Json(handMadeMap())}`,
    )
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('', '(root)', -1, -1), children: [2] },
        {
          id: 2,
          callFrame: frame(script, 'hot', 1, 12),
          hitCount: 1,
          positionTicks: [{ line: 3, ticks: 1 }],
        },
      ],
      startTime: 0,
      endTime: 10,
    }
    const raw = jsonRecording(profile, { samples: 1, effectiveIntervalUs: 10 })
    const cache = new SourceMapCache({ roots: [root] })

    const mapped = await mapRecording('cpu', raw, cache, 1_000_000)
    assert.deepEqual(mapped?.frames, { total: 2, mapped: 1 })
    assert.notEqual(mapped.recording.sha256, raw.sha256)
    assert.deepEqual(mapped.recording.sampling, raw.sampling)
    assert.ok('buffer' in mapped.recording.body)
    const stored = JSON.parse(mapped.recording.body.buffer.toString('utf8')) as CpuProfile
    assert.equal(stored.nodes[1]?.callFrame.url, pathToFileURL(join(root, 'app', 'src', 'app.ts')).href)
    assert.equal(mapped.recording.bytes, mapped.recording.body.buffer.length)

    const tooBig = await mapRecording('cpu', raw, cache, mapped.recording.bytes - 1)
    assert.equal(tooBig?.recording, raw)
    assert.deepEqual(tooBig.frames, { total: 2, mapped: 0 })

    const unmappable = jsonRecording({ ...profile, nodes: [profile.nodes[0]!] }, { samples: 0 })
    assert.equal((await mapRecording('cpu', unmappable, cache, 1_000_000))?.recording, unmappable)
    assert.equal(await mapRecording('heapsnapshot', raw, cache, 1_000_000), undefined)
    // a body that arrived without its profile object is parsed; one that does not parse is left alone
    const garbage = { bytes: 10, sha256: raw.sha256, body: { buffer: Buffer.from('{ not json') } }
    assert.equal(await mapRecording('cpu', garbage, cache, 1_000_000), undefined)
    const wrongShape = jsonRecording({ head: null }, { samples: 0 })
    assert.equal(await mapRecording('heap', wrongShape, cache, 1_000_000), undefined)
  })
})
