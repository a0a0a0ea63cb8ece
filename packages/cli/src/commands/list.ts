import { isCaptureId, type CaptureMeta } from '@tripwire/core'
import { runtimeError, usageError } from '../cli-error.js'
import type { Command } from '../command.js'
import { choiceFlag, integerFlag } from '../flag-values.js'
import { parseFlags, type ParsedFlags } from '../flags.js'
import { getJson } from '../http/get-json.js'
import { adminUrl, parseHttpUrl } from '../http/target-url.js'
import { CREDENTIAL_FLAG_HINTS } from './credential-flags.js'
import { adminBearer } from './credentials.js'
import {
  LIST_EXAMPLES,
  LIST_FLAGS,
  LIST_KINDS,
  LIST_LIMIT_MAX,
  LIST_OPERANDS,
  LIST_SECTIONS,
  MAX_PAGES,
  TRIGGER_TYPES,
} from './list-flags.js'
import { captureTable } from './list-table.js'
import { timeoutSeconds } from './network-flags.js'

interface Page {
  items: CaptureMeta[]
  nextCursor?: string
}

/** `tripwire list <admin-url>`: the captures a service has stored, newest first. */
export const listCommand: Command = {
  name: 'list',
  summary: 'list the captures a service has stored, newest first',
  usage: ['list ADMIN_URL [credentials] [flags]'],
  description:
    'Lists captures through the admin API (GET ADMIN_URL/captures) with a read token: a table of id, status, ' +
    'kind, trigger, route, size and duration, or the metadata as JSON. One page unless --all.',
  operands: LIST_OPERANDS,
  sections: LIST_SECTIONS,
  examples: LIST_EXAMPLES,
  async run(argv, io) {
    const flags = parseFlags(argv, LIST_FLAGS, CREDENTIAL_FLAG_HINTS, LIST_OPERANDS)
    const base = parseHttpUrl(flags.operands[0]!, 'ADMIN_URL')
    const query = listQuery(flags)
    const timeoutSec = timeoutSeconds(flags)
    const bearer = adminBearer(flags, io)

    const items: CaptureMeta[] = []
    let cursor = query.cursor
    let pages = 0
    do {
      const url = adminUrl(base, 'captures', { ...query, cursor })
      const page = asPage(await getJson(url, { bearer, timeoutSec, what: 'list' }), url)
      items.push(...page.items)
      cursor = page.nextCursor
      pages++
    } while (flags.boolean('all') && cursor !== undefined && pages < MAX_PAGES)

    if (flags.boolean('all') && cursor !== undefined) {
      io.warn(`stopped after ${MAX_PAGES} pages; continue with --cursor ${cursor}`)
    }
    if (flags.boolean('json')) {
      io.out(`${JSON.stringify(cursor === undefined ? { items } : { items, nextCursor: cursor }, null, 2)}\n`)
      return
    }
    if (items.length === 0) {
      io.note(`no captures${query.kind === undefined && query.trigger === undefined ? '' : ' match'}\n`)
      return
    }
    io.out(captureTable(items))
    if (!flags.boolean('all') && cursor !== undefined) io.note(`more: add --cursor ${cursor}, or --all\n`)
  },
}

function listQuery(flags: ParsedFlags): Record<'limit' | 'kind' | 'trigger' | 'cursor', string | undefined> {
  const limit = flags.string('limit')
  const kind = flags.string('kind')
  const trigger = flags.string('trigger')
  const cursor = flags.string('cursor')
  if (cursor !== undefined && !isCaptureId(cursor)) {
    throw usageError('--cursor takes a capture id: the nextCursor of a previous page')
  }
  return {
    limit:
      limit === undefined ? undefined : String(integerFlag('--limit', limit, 1, LIST_LIMIT_MAX, 'captures')),
    kind: kind === undefined ? undefined : choiceFlag('--kind', kind, LIST_KINDS),
    trigger: trigger === undefined ? undefined : choiceFlag('--trigger', trigger, TRIGGER_TYPES),
    cursor,
  }
}

/** Checks just what the table and the cursor loop read, so a wrong URL fails here with a line, not a crash. */
function asPage(body: unknown, url: URL): Page {
  const page = body as Partial<Page> | null
  const valid =
    typeof page === 'object' &&
    page !== null &&
    Array.isArray(page.items) &&
    page.items.every(
      (item) =>
        typeof item === 'object' &&
        item !== null &&
        typeof item.id === 'string' &&
        typeof item.status === 'string' &&
        typeof item.kind === 'string' &&
        typeof item.trigger === 'object' &&
        item.trigger !== null,
    ) &&
    (page.nextCursor === undefined || (typeof page.nextCursor === 'string' && isCaptureId(page.nextCursor)))
  if (!valid) {
    throw runtimeError(`list: the answer from ${url.host}${url.pathname} is not a page of captures`)
  }
  return page as Page
}
