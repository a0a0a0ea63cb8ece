/**
 * The child process a capture-cost measurement runs in, one process per role (bench/benchmarks/capture-cost.ts
 * starts it):
 *
 *   node --import tsx bench/capture/subject.ts --role cpu|rss|heapsnapshot --plan '<JSON plan>'
 *
 * This file only reads the arguments and runs the role (roles/). What it prints is described in protocol.ts:
 * JSON lines, progress as the role goes, then one result.
 */
import { parseArgs } from 'node:util'
import { ROLES, type CpuPlan, type Role, type RssPlan, type SnapshotPlan } from './protocol.js'
import { emit } from './report.js'
import { runCpu } from './roles/cpu.js'
import { runHeapSnapshot } from './roles/heapsnapshot.js'
import { runRss } from './roles/rss.js'

const { values } = parseArgs({ options: { role: { type: 'string' }, plan: { type: 'string' } } })
const role = values.role as Role | undefined
if (role === undefined || !ROLES.includes(role) || values.plan === undefined) {
  console.error(`usage: subject.ts --role ${ROLES.join('|')} --plan '<JSON plan>'`)
  process.exit(2)
}
const plan: unknown = JSON.parse(values.plan)
const outcome =
  role === 'cpu'
    ? await runCpu(plan as CpuPlan)
    : role === 'rss'
      ? await runRss(plan as RssPlan)
      : await runHeapSnapshot(plan as SnapshotPlan)
emit({ event: 'result', outcome })
