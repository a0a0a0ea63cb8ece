/* global document, window, requestAnimationFrame */
// Tripwire's flame-graph viewer, loaded by flamegraph.html from the admin API.
//
// Hand-written rather than bundling d3-flame-graph or speedscope: it is a few hundred lines with no dependency
// to vet, pin or ship; it reads both V8 formats Tripwire stores (.cpuprofile and .heapprofile) without a
// conversion step; and it needs nothing a strict CSP forbids (no inline script or style attribute, no eval, no
// third-party origin), so the page works offline and under `default-src 'none'`. Frames are divs, not a
// canvas, so that a test (or a screen reader) can find a function's frame by its `data-name`.

const ROW_PX = 18
/** Narrower frames are not drawn: nobody can see or hover them, and a big profile has many thousands. */
const MIN_FRAME_PX = 0.5
const LABEL_MIN_PX = 28
const TOP_ROWS = 50
/** V8's entries that are not JavaScript functions: grey in the graph, left out of the top table. */
const PSEUDO_FRAMES = new Set(['(root)', '(idle)', '(program)', '(garbage collector)'])

const byId = (id) => document.getElementById(id)

const state = { tree: undefined, focus: undefined, term: '', matched: new Set(), config: undefined }

main().catch((error) => showStatus(`The flame graph could not be shown: ${error.message}`, true))

async function main() {
  const config = JSON.parse(byId('tripwire-capture').textContent)
  state.config = config
  byId('title').textContent = config.title
  const profile = await loadProfile(config.profileUrl)
  const tree = config.kind === 'heap' ? heapTree(profile) : cpuTree(profile)
  if (tree.root.total <= 0) throw new Error('the profile holds no samples')
  state.tree = tree
  state.focus = tree.root
  byId('summary').textContent = summaryLine(config, tree)
  byId('top-unit').textContent = config.kind === 'heap' ? 'Self bytes' : 'Self time'
  fillTopTable(tree)
  wireEvents()
  byId('status').hidden = true
  render()
}

async function loadProfile(url) {
  // a sink that answers with a redirect to its own store (S3 presigned) is refused by connect-src 'self':
  // say so, instead of failing with a CSP error
  const response = await fetch(url, { cache: 'no-store', redirect: 'manual' })
  if (response.type === 'opaqueredirect') {
    throw new Error(
      'this capture is downloaded straight from its store (a redirect this page may not follow); ' +
        'download the profile and open it in Chrome DevTools or speedscope',
    )
  }
  if (!response.ok) {
    const body = await response.json().catch(() => undefined)
    const detail = body?.error?.message
    throw new Error(`the profile download answered ${response.status}${detail ? `: ${detail}` : ''}`)
  }
  return response.json()
}

// ---- the call tree: one node per function per stack, whatever the format --------------------------------

function functionKey(frame) {
  return `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`
}

function newNode(frame, parent) {
  return {
    name: frame.functionName || '(anonymous)',
    url: frame.url || '',
    line: frame.lineNumber + 1,
    key: functionKey(frame),
    self: 0,
    total: 0,
    x: 0,
    depth: parent === undefined ? 0 : parent.depth + 1,
    parent,
    children: new Map(),
    kids: [],
    index: 0,
  }
}

/** The child of `parent` for `frame`: calls of one function from one stack are merged. */
function childOf(parent, frame) {
  const key = functionKey(frame)
  let child = parent.children.get(key)
  if (child === undefined) {
    child = newNode(frame, parent)
    parent.children.set(key, child)
  }
  return child
}

/** CPU: weight = sampled µs, with the rule of the CLI's `top` (core's cpu-summary) so the numbers agree. */
function cpuTree(profile) {
  if (!Array.isArray(profile?.nodes) || profile.nodes.length === 0)
    throw new Error('this is not a CPU profile')
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const children = new Set(profile.nodes.flatMap((node) => node.children ?? []))
  const head = profile.nodes.find((node) => !children.has(node.id)) ?? profile.nodes[0]
  const root = newNode(head.callFrame, undefined)
  const merged = new Map([[head.id, root]])
  // breadth first and iterative: stacks can be deeper than is safe to recurse on
  const queue = [head]
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]
    for (const id of node.children ?? []) {
      const child = nodes.get(id)
      if (child === undefined || merged.has(id)) continue
      merged.set(id, childOf(merged.get(node.id), child.callFrame))
      queue.push(child)
    }
  }
  for (const [id, us] of sampleTimePerNode(profile)) {
    const node = merged.get(id)
    if (node !== undefined) node.self += us
  }
  return finishTree(root, profile.samples?.length ?? 0)
}

/** Each sample lasts until the next one (V8 samples late under load); hit counts when there are no samples. */
function sampleTimePerNode(profile) {
  const time = new Map()
  const { samples, timeDeltas } = profile
  if (
    Array.isArray(samples) &&
    Array.isArray(timeDeltas) &&
    samples.length === timeDeltas.length &&
    samples.length > 0
  ) {
    let at = profile.startTime
    const stamps = timeDeltas.map((delta) => (at += delta))
    samples.forEach((id, index) => {
      const next = index + 1 < stamps.length ? stamps[index + 1] : profile.endTime
      time.set(id, (time.get(id) ?? 0) + Math.max(0, next - stamps[index]))
    })
    return time
  }
  const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0)
  const meanUs = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0
  for (const node of profile.nodes) time.set(node.id, (node.hitCount ?? 0) * meanUs)
  return time
}

/** Heap: weight = sampled bytes still allocated at the end of the window (each node's selfSize). */
function heapTree(profile) {
  if (typeof profile?.head !== 'object' || profile.head === null)
    throw new Error('this is not a heap profile')
  const root = newNode(profile.head.callFrame, undefined)
  const stack = [[profile.head, root]]
  while (stack.length > 0) {
    const [node, into] = stack.pop()
    into.self += node.selfSize ?? 0
    for (const child of node.children ?? []) stack.push([child, childOf(into, child.callFrame)])
  }
  return finishTree(root, profile.samples?.length ?? 0)
}

/** Totals, then the layout: children heaviest first, each starting where its left sibling ends. */
function finishTree(root, samples) {
  const preorder = []
  const pending = [root]
  while (pending.length > 0) {
    const node = pending.pop()
    preorder.push(node)
    for (const child of node.children.values()) pending.push(child)
  }
  for (let i = preorder.length - 1; i >= 0; i--) {
    const node = preorder[i]
    node.total += node.self
    if (node.parent !== undefined) node.parent.total += node.total
  }
  const nodes = []
  const todo = [root]
  while (todo.length > 0) {
    const node = todo.pop()
    node.index = nodes.length
    nodes.push(node)
    node.kids = [...node.children.values()]
      .filter((child) => child.total > 0)
      .sort((a, b) => b.total - a.total || (a.name < b.name ? -1 : 1))
    let x = node.x
    for (const child of node.kids) {
      child.x = x
      x += child.total
    }
    for (let i = node.kids.length - 1; i >= 0; i--) todo.push(node.kids[i])
  }
  return { root, nodes, samples, functions: functionTotals(root) }
}

/** Self and total per function; a recursive function counts once per stack in its total. */
function functionTotals(root) {
  const byKey = new Map()
  const onPath = new Map()
  const stack = [{ node: root, leaving: false }]
  while (stack.length > 0) {
    const { node, leaving } = stack.pop()
    if (leaving) {
      onPath.set(node.key, onPath.get(node.key) - 1)
      continue
    }
    let entry = byKey.get(node.key)
    if (entry === undefined) {
      entry = { name: node.name, url: node.url, line: node.line, self: 0, total: 0 }
      byKey.set(node.key, entry)
    }
    entry.self += node.self
    if (!onPath.get(node.key)) entry.total += node.total
    onPath.set(node.key, (onPath.get(node.key) ?? 0) + 1)
    stack.push({ node, leaving: true })
    for (const child of node.kids) stack.push({ node: child, leaving: false })
  }
  return [...byKey.values()].sort((a, b) => b.self - a.self || b.total - a.total)
}

// ---- numbers and words ---------------------------------------------------------------------------------

function percent(part, whole) {
  const share = whole > 0 ? (part / whole) * 100 : 0
  return `${share.toFixed(share >= 10 || share === 0 ? 1 : 2)}%`
}

function amount(value) {
  if (state.config.kind === 'heap') {
    if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MB`
    if (value >= 1024) return `${(value / 1024).toFixed(1)} KB`
    return `${Math.round(value)} B`
  }
  const ms = value / 1000
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`
}

function where(node) {
  if (node.url === '') return PSEUDO_FRAMES.has(node.name) ? 'V8' : '(native)'
  const file = node.url.replace(/^file:\/\//, '')
  return node.line > 0 ? `${file}:${node.line}` : file
}

function summaryLine(config, tree) {
  const whole = tree.root.total
  const parts = [
    config.kind === 'heap' ? `${amount(whole)} sampled, live at the end` : `${amount(whole)} sampled`,
  ]
  if (tree.samples > 0) parts.push(`${tree.samples.toLocaleString('en')} samples`)
  if (config.kind !== 'heap') {
    for (const name of ['(idle)', '(garbage collector)', '(program)']) {
      const entry = tree.functions.find((fn) => fn.name === name)
      parts.push(`${name.slice(1, -1)} ${percent(entry?.self ?? 0, whole)}`)
    }
  }
  if (config.status === 'aborted') parts.push('capture aborted: partial')
  if (config.trigger) parts.push(`trigger: ${config.trigger}`)
  if (config.startedAt) parts.push(config.startedAt)
  return parts.join(' · ')
}

// ---- drawing ---------------------------------------------------------------------------------------------

function colorOf(node) {
  let hash = 0
  for (let i = 0; i < node.name.length; i++) hash = (hash * 31 + node.name.charCodeAt(i)) | 0
  const spread = Math.abs(hash)
  // warm for time, green for memory, as in most flame graphs
  const hue = state.config.kind === 'heap' ? 90 + (spread % 60) : spread % 55
  return `hsl(${hue} ${70 + (spread % 20)}% ${58 + ((spread >> 5) % 12)}%)`
}

function isAncestorOfFocus(node) {
  for (let at = state.focus.parent; at !== undefined; at = at.parent) if (at === node) return true
  return false
}

function render() {
  const graph = byId('graph')
  const width = graph.clientWidth
  const start = state.focus.x
  const span = state.focus.total
  const scale = width / span
  const searching = state.term !== ''
  const frames = document.createDocumentFragment()
  let deepest = 0
  const stack = [state.tree.root]
  while (stack.length > 0) {
    const node = stack.pop()
    // a node is inside the zoomed range, around it (an ancestor, drawn full width), or outside it
    const left = Math.max(node.x, start)
    const right = Math.min(node.x + node.total, start + span)
    const px = (right - left) * scale
    if (px < MIN_FRAME_PX) continue
    const frame = document.createElement('div')
    frame.className = 'frame'
    frame.dataset.name = node.name
    frame.dataset.index = String(node.index)
    frame.title = tooltipLines(node).join('\n')
    frame.style.left = `${(left - start) * scale}px`
    frame.style.width = `${px}px`
    frame.style.top = `${node.depth * ROW_PX}px`
    if (PSEUDO_FRAMES.has(node.name)) frame.classList.add('pseudo')
    if (searching && state.matched.has(node)) frame.classList.add('match')
    else if (searching) frame.classList.add('dim')
    if (!frame.classList.contains('match') && !frame.classList.contains('pseudo')) {
      frame.style.backgroundColor = colorOf(node)
    }
    if (node !== state.focus && isAncestorOfFocus(node)) frame.classList.add('context')
    if (px >= LABEL_MIN_PX) frame.textContent = node.name
    frames.append(frame)
    deepest = Math.max(deepest, node.depth)
    for (const child of node.kids) stack.push(child)
  }
  graph.replaceChildren(frames)
  graph.style.height = `${(deepest + 1) * ROW_PX}px`
  renderBreadcrumb()
}

function renderBreadcrumb() {
  const path = []
  for (let at = state.focus; at !== undefined; at = at.parent) path.unshift(at)
  const items = path.map((node) => {
    const item = document.createElement('li')
    const button = document.createElement('button')
    button.type = 'button'
    button.textContent = node.name
    button.title = where(node)
    button.dataset.index = String(node.index)
    item.append(button)
    return item
  })
  byId('breadcrumb').replaceChildren(...items)
  byId('reset').disabled = state.focus === state.tree.root
}

function tooltipLines(node) {
  const whole = state.tree.root.total
  return [
    node.name,
    where(node),
    `self ${percent(node.self, whole)} (${amount(node.self)}) · total ${percent(node.total, whole)} (${amount(node.total)})`,
  ]
}

function showTooltip(node, event) {
  const tooltip = byId('tooltip')
  const [name, place, numbers] = tooltipLines(node)
  const title = document.createElement('strong')
  title.textContent = name
  const file = document.createElement('div')
  file.className = 'where'
  file.textContent = place
  const figures = document.createElement('div')
  figures.textContent = numbers
  const zoomed = state.focus === state.tree.root ? [] : [zoomShare(node)]
  tooltip.replaceChildren(title, file, figures, ...zoomed)
  tooltip.hidden = false
  const x = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8)
  const y =
    event.clientY + 18 + tooltip.offsetHeight > window.innerHeight
      ? event.clientY - tooltip.offsetHeight - 10
      : event.clientY + 18
  tooltip.style.left = `${Math.max(4, x)}px`
  tooltip.style.top = `${Math.max(4, y)}px`
}

function zoomShare(node) {
  const line = document.createElement('div')
  line.className = 'where'
  line.textContent = `${percent(node.total, state.focus.total)} of ${state.focus.name}`
  return line
}

// ---- zoom, search, the top table -------------------------------------------------------------------------

function zoom(node) {
  state.focus = node
  byId('tooltip').hidden = true
  render()
}

function search(text) {
  state.term = text.trim().toLowerCase()
  state.matched = new Set()
  const share = byId('match-share')
  if (state.term === '') {
    share.textContent = ''
    render()
    return
  }
  let matchedWeight = 0
  for (const node of state.tree.nodes) {
    const hit = node.name.toLowerCase().includes(state.term) || node.url.toLowerCase().includes(state.term)
    if (!hit) continue
    state.matched.add(node)
    // a match inside another match is already counted in its total
    let nested = false
    for (let at = node.parent; at !== undefined && !nested; at = at.parent) nested = state.matched.has(at)
    if (!nested) matchedWeight += node.total
  }
  const whole = state.tree.root.total
  share.textContent =
    state.matched.size === 0
      ? 'no match'
      : `matched ${percent(matchedWeight, whole)} of ${amount(whole)} (${state.matched.size} ${state.matched.size === 1 ? 'frame' : 'frames'})`
  render()
}

function fillTopTable(tree) {
  const whole = tree.root.total
  const rows = tree.functions
    .filter((fn) => !PSEUDO_FRAMES.has(fn.name) && fn.self > 0)
    .slice(0, TOP_ROWS)
    .map((fn) => {
      const row = document.createElement('tr')
      row.dataset.name = fn.name
      row.title = where(fn)
      const cells = [fn.name, percent(fn.self, whole), percent(fn.total, whole), amount(fn.self)]
      cells.forEach((text, column) => {
        const cell = document.createElement('td')
        cell.textContent = text
        if (column > 0) cell.className = 'num'
        row.append(cell)
      })
      return row
    })
  byId('top').tBodies[0].replaceChildren(...rows)
}

function nodeOf(element) {
  const index = element?.dataset.index
  return index === undefined ? undefined : state.tree.nodes[Number(index)]
}

function wireEvents() {
  const graph = byId('graph')
  graph.addEventListener('click', (event) => {
    const node = nodeOf(event.target.closest('.frame'))
    if (node !== undefined) zoom(node)
  })
  graph.addEventListener('mousemove', (event) => {
    const node = nodeOf(event.target.closest('.frame'))
    if (node === undefined) byId('tooltip').hidden = true
    else showTooltip(node, event)
  })
  graph.addEventListener('mouseleave', () => {
    byId('tooltip').hidden = true
  })
  byId('breadcrumb').addEventListener('click', (event) => {
    const node = nodeOf(event.target.closest('button'))
    if (node !== undefined) zoom(node)
  })
  byId('reset').addEventListener('click', () => zoom(state.tree.root))
  const input = byId('search')
  input.addEventListener('input', () => search(input.value))
  byId('top').addEventListener('click', (event) => {
    const row = event.target.closest('tbody tr')
    if (row === null) return
    input.value = row.dataset.name
    search(input.value)
  })
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return
    if (document.activeElement === input && input.value !== '') {
      input.value = ''
      search('')
    } else zoom(state.tree.root)
  })
  let queued = false
  window.addEventListener('resize', () => {
    if (queued) return
    queued = true
    requestAnimationFrame(() => {
      queued = false
      render()
    })
  })
}

function showStatus(message, isError) {
  const status = byId('status')
  status.hidden = false
  status.textContent = message
  status.classList.toggle('error', isError)
}
