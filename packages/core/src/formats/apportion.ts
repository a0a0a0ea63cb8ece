/**
 * Splits a non-negative integer `total` into integer parts proportional to `weights` that sum to `total`
 * exactly (largest remainder). BigInt, because nanosecond totals times tick counts pass 2^53.
 * All weights zero (or none) leaves everything on the first part, so nothing is lost.
 */
export function apportion(total: number, weights: readonly number[]): number[] {
  // V8's tick counts are whole and positive; anything else is read as no weight rather than thrown on
  const clean = weights.map((weight) => (Number.isFinite(weight) && weight > 0 ? Math.round(weight) : 0))
  const parts = clean.map(() => 0)
  if (parts.length === 0) return parts
  const sum = clean.reduce((acc, weight) => acc + weight, 0)
  if (sum <= 0) {
    parts[0] = total
    return parts
  }
  const bigTotal = BigInt(total)
  const bigSum = BigInt(sum)
  const remainders: { index: number; remainder: bigint }[] = []
  let assigned = 0
  clean.forEach((weight, index) => {
    const scaled = bigTotal * BigInt(weight)
    const share = Number(scaled / bigSum)
    parts[index] = share
    assigned += share
    remainders.push({ index, remainder: scaled % bigSum })
  })
  // the floors fall short by fewer than weights.length units: the largest remainders take one more each
  remainders.sort((a, b) =>
    a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1,
  )
  for (let i = 0; i < total - assigned; i++) {
    const { index } = remainders[i]!
    parts[index] = parts[index]! + 1
  }
  return parts
}
