/**
 * The work one request of the service does: a seeded walk over a tree of named functions ("stages") shaped like
 * an online shop's order path, so that a CPU profile has the breadth of a real service's rather than one hot
 * loop. The stage names are what the stored profiles show: keep them as they are.
 */

/** One request's walk: its own generator state and a budget of calls, so every request does fixed work. */
interface Walk {
  state: number
  calls: number
}

type Stage = (walk: Walk, depth: number) => number

const CALLS_PER_REQUEST = 40
/** Scales every stage's loops: about 1.5 ms of handler work per request on a 2020s server core. */
const SCALE = 8
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet']

function nextRandom(walk: Walk): number {
  walk.state = (Math.imul(walk.state, 1103515245) + 12345) >>> 0
  return walk.state >>> 8
}

/** The stage to call next, or undefined when the walk is deep enough or its budget is spent. */
function follow(walk: Walk, depth: number): Stage | undefined {
  if (depth <= 0 || walk.calls <= 0) return undefined
  walk.calls--
  return STAGES[nextRandom(walk) % STAGES.length]
}

function parseQuery(walk: Walk, depth: number): number {
  let quantity = 0
  for (let i = 0; i < 10 * SCALE; i++) {
    const region = WORDS[(walk.state + i) % WORDS.length]
    const params = new URLSearchParams(`sku=${(walk.state + i) % 9973}&qty=${i % 7}&region=${region}`)
    quantity += Number(params.get('qty'))
  }
  const next = follow(walk, depth)
  return quantity + (next === undefined ? 0 : next(walk, depth - 1))
}

function loadCustomer(walk: Walk, depth: number): number {
  const customer = { id: walk.state % 10_007, tier: WORDS[walk.state % 3], since: 2000 + (walk.state % 25) }
  let score = 0
  for (let i = 0; i < 300 * SCALE; i++) score = (score + customer.id * i) % 65_521
  const next = follow(walk, depth)
  return score + (next === undefined ? 0 : next(walk, depth - 1))
}

function loadCart(walk: Walk, depth: number): number {
  let items = 0
  for (let i = 0; i < 10 * SCALE; i++) {
    const lines = Array.from({ length: 8 + ((walk.state + i) % 8) }, (_, k) => ({
      sku: k * 31,
      qty: 1 + (k % 3),
    }))
    items += lines.reduce((sum, line) => sum + line.qty, 0)
  }
  const next = follow(walk, depth)
  const second = follow(walk, depth)
  return (
    items +
    (next === undefined ? 0 : next(walk, depth - 1)) +
    (second === undefined ? 0 : second(walk, depth - 1))
  )
}

function validateCart(walk: Walk, depth: number): number {
  let invalid = 0
  for (let i = 0; i < 400 * SCALE; i++) if ((walk.state ^ i) % 97 === 0) invalid++
  const next = follow(walk, depth)
  return invalid + (next === undefined ? 0 : next(walk, depth - 1))
}

function priceLine(walk: Walk, depth: number): number {
  let price = 0
  for (let i = 0; i < 500 * SCALE; i++) price += Math.sqrt(i + (walk.state % 100)) * 0.01
  const next = follow(walk, depth)
  return price + (next === undefined ? 0 : next(walk, depth - 1))
}

function applyDiscount(walk: Walk, depth: number): number {
  const rules = [0.05, 0.1, 0.15, 0.2, 0.25].map((rate, i) => ({ rate, min: i * 20 }))
  let best = 0
  for (let i = 0; i < 200 * SCALE; i++) {
    for (const rule of rules) if (i >= rule.min) best = Math.max(best, rule.rate)
  }
  const next = follow(walk, depth)
  return best + (next === undefined ? 0 : next(walk, depth - 1))
}

function computeTax(walk: Walk, depth: number): number {
  let tax = 0
  for (let i = 0; i < 600 * SCALE; i++) tax += (i % 13) * 0.0725
  const next = follow(walk, depth)
  const second = follow(walk, depth)
  return (
    tax +
    (next === undefined ? 0 : next(walk, depth - 1)) +
    (second === undefined ? 0 : second(walk, depth - 1))
  )
}

function convertCurrency(walk: Walk, depth: number): number {
  const rates = new Map(WORDS.map((word, i) => [word, 1 + i / 10]))
  let sum = 0
  for (let i = 0; i < 200 * SCALE; i++) sum += rates.get(WORDS[i % WORDS.length]!) ?? 0
  const next = follow(walk, depth)
  return sum + (next === undefined ? 0 : next(walk, depth - 1))
}

function checkInventory(walk: Walk, depth: number): number {
  const stock = new Int32Array(256 * SCALE)
  for (let i = 0; i < stock.length; i++) stock[i] = (walk.state + i * 17) % 50
  let low = 0
  for (const level of stock) if (level < 3) low++
  const next = follow(walk, depth)
  return low + (next === undefined ? 0 : next(walk, depth - 1))
}

function reserveStock(walk: Walk, depth: number): number {
  const reservations: number[] = []
  for (let i = 0; i < 100 * SCALE; i++) reservations.push((walk.state * i) % 1000)
  reservations.sort((a, b) => a - b)
  const next = follow(walk, depth)
  return reservations[50]! + (next === undefined ? 0 : next(walk, depth - 1))
}

function scoreFraud(walk: Walk, depth: number): number {
  let risk = 0
  for (let i = 0; i < 700 * SCALE; i++) risk = (risk * 31 + ((walk.state >>> (i % 24)) & 0xff)) | 0
  const next = follow(walk, depth)
  const second = follow(walk, depth)
  return (
    (risk & 0xff) +
    (next === undefined ? 0 : next(walk, depth - 1)) +
    (second === undefined ? 0 : second(walk, depth - 1))
  )
}

function formatAddress(walk: Walk, depth: number): number {
  let length = 0
  for (let i = 0; i < 20 * SCALE; i++) {
    const street = `${(walk.state + i) % 999} Main St`
    length += [street, WORDS[i % WORDS.length]!, `ZIP ${walk.state % 99_999}`].join(', ').toUpperCase().length
  }
  const next = follow(walk, depth)
  return length + (next === undefined ? 0 : next(walk, depth - 1))
}

function renderReceipt(walk: Walk, depth: number): number {
  let receipt = ''
  for (let i = 0; i < 20 * SCALE; i++) {
    receipt += `${WORDS[i % WORDS.length]} x${i} ${(i * 1.25).toFixed(2)}\n`
  }
  const next = follow(walk, depth)
  return receipt.length + (next === undefined ? 0 : next(walk, depth - 1))
}

function serializeOrder(walk: Walk, depth: number): number {
  let length = 0
  for (let i = 0; i < 5 * SCALE; i++) {
    const order = {
      id: walk.state + i,
      lines: WORDS.slice(0, 6).map((sku, qty) => ({ sku, qty })),
      paid: true,
    }
    length += JSON.stringify(order).length
  }
  const next = follow(walk, depth)
  return length + (next === undefined ? 0 : next(walk, depth - 1))
}

function parsePayload(walk: Walk, depth: number): number {
  let retries = 0
  for (let i = 0; i < 5 * SCALE; i++) {
    const text = `{"id":${walk.state + i},"tags":["a","b","c"],"meta":{"retries":${i % 4}}}`
    retries += (JSON.parse(text) as { meta: { retries: number } }).meta.retries
  }
  const next = follow(walk, depth)
  return retries + (next === undefined ? 0 : next(walk, depth - 1))
}

function normalizeSku(walk: Walk, depth: number): number {
  let matches = 0
  for (let i = 0; i < 30 * SCALE; i++) {
    if (/^[A-Z]{3}-\d{4}$/.test(`SKU-${(walk.state + i) % 10_000}`)) matches++
  }
  const next = follow(walk, depth)
  return matches + (next === undefined ? 0 : next(walk, depth - 1))
}

function estimateShipping(walk: Walk, depth: number): number {
  let cost = 0
  for (let i = 0; i < 400 * SCALE; i++) cost += Math.log1p(i) * ((walk.state % 5) + 1)
  const next = follow(walk, depth)
  const second = follow(walk, depth)
  return (
    cost +
    (next === undefined ? 0 : next(walk, depth - 1)) +
    (second === undefined ? 0 : second(walk, depth - 1))
  )
}

function auditLog(walk: Walk, depth: number): number {
  let length = 0
  for (let i = 0; i < 10 * SCALE; i++) {
    length += `${new Date(1_700_000_000_000 + walk.state + i).toISOString()} order=${walk.state} ok`.length
  }
  const next = follow(walk, depth)
  return length + (next === undefined ? 0 : next(walk, depth - 1))
}

function mergeTotals(walk: Walk, depth: number): number {
  let merged = 0
  for (let i = 0; i < 20 * SCALE; i++) {
    merged += WORDS.map((_, k) => ((walk.state + i) % (k + 7)) * 1.5).reduce((sum, value) => sum + value, 0)
  }
  const next = follow(walk, depth)
  return merged + (next === undefined ? 0 : next(walk, depth - 1))
}

const STAGES: Stage[] = [
  parseQuery,
  loadCustomer,
  loadCart,
  validateCart,
  priceLine,
  applyDiscount,
  computeTax,
  convertCurrency,
  checkInventory,
  reserveStock,
  scoreFraud,
  formatAddress,
  renderReceipt,
  serializeOrder,
  parsePayload,
  normalizeSku,
  estimateShipping,
  auditLog,
  mergeTotals,
]

/** The handler's work for request number `seed`: a fixed number of stage calls, from 3 to 10 deep. */
export function handleOrder(seed: number): number {
  const walk: Walk = { state: (seed * 2_654_435_761) >>> 0, calls: CALLS_PER_REQUEST }
  let total = 0
  // The budget may outlast one walk (a shallow one): start again from the top until it is spent
  for (let tries = 0; tries < CALLS_PER_REQUEST && walk.calls > 0; tries++) {
    const first = follow(walk, 1)
    if (first !== undefined) total += first(walk, 2 + (nextRandom(walk) % 8))
  }
  return total
}
