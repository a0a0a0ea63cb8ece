import { createHash } from 'node:crypto'
import { captureFileName, isCaptureId, isCaptureKind, pprofFileName, type CaptureMeta } from '@tripwire/core'
import {
  commit,
  createPending,
  discard,
  fileError,
  refuseExisting,
  type PendingFile,
} from '../atomic-file.js'
import { runtimeError, usageError } from '../cli-error.js'
import type { Command } from '../command.js'
import { choiceFlag, nonEmptyFlag } from '../flag-values.js'
import { parseFlags } from '../flags.js'
import { bodyChunks } from '../http/body-chunks.js'
import { dispositionFileName } from '../http/content-disposition.js'
import { getJson } from '../http/get-json.js'
import { IdleDeadline } from '../http/idle-deadline.js'
import { networkError } from '../http/network-error.js'
import { adminUrl, parseHttpUrl } from '../http/target-url.js'
import { ProgressBar } from '../progress-bar.js'
import { formatBytes } from '../units.js'
import { CREDENTIAL_FLAG_HINTS } from './credential-flags.js'
import { adminBearer } from './credentials.js'
import { timeoutSeconds } from './network-flags.js'
import { openDownload } from './pull-download.js'
import { PULL_EXAMPLES, PULL_FLAGS, PULL_FORMATS, PULL_OPERANDS, PULL_SECTIONS } from './pull-flags.js'

/** What the download is checked against. */
type Expected = Pick<CaptureMeta, 'kind' | 'bytes' | 'sha256'>

/** `tripwire pull <admin-url> <id>`: downloads a capture's profile, whole and verified, or not at all. */
export const pullCommand: Command = {
  name: 'pull',
  summary: "download a capture's profile (native or pprof), checked against its sha256",
  usage: ['pull ADMIN_URL ID [credentials] [--format pprof] [-o FILE] [flags]'],
  description:
    "Downloads a capture's profile through the admin API (GET ADMIN_URL/captures/ID/profile) with a read " +
    'token, following a redirect to a presigned storage URL without the token. The file appears only when it ' +
    'is complete and, for the native format, its sha256 matches the capture metadata. Prints the file name.',
  operands: PULL_OPERANDS,
  sections: PULL_SECTIONS,
  examples: PULL_EXAMPLES,
  async run(argv, io) {
    const flags = parseFlags(argv, PULL_FLAGS, CREDENTIAL_FLAG_HINTS, PULL_OPERANDS)
    const base = parseHttpUrl(flags.operands[0]!, 'ADMIN_URL')
    const id = flags.operands[1]!
    if (!isCaptureId(id)) {
      throw usageError(
        'ID is not a capture id (such as 20261121T223301Z-cpu-3f9a1c0e); tripwire list shows them',
      )
    }
    const format = choiceFlag('--format', flags.string('format') ?? 'native', PULL_FORMATS)
    const force = flags.boolean('force')
    const output = nonEmptyFlag('--output', flags.string('output'))
    const timeoutSec = timeoutSeconds(flags)
    // before any request: a refusal that costs nothing should not wait for a download
    if (output !== undefined) await refuseExisting(output, force)
    const bearer = adminBearer(flags, io)
    const what = `capture ${id}`

    // pprof is converted on the fly, so only the native body has a checksum to meet
    const expected =
      format === 'native'
        ? expectedBody(await getJson(adminUrl(base, `captures/${id}`), { bearer, timeoutSec, what }), id)
        : undefined

    const deadline = new IdleDeadline(timeoutSec)
    let pending: PendingFile | undefined
    let progress: ProgressBar | undefined
    try {
      const profileUrl = adminUrl(base, `captures/${id}/profile`, { format })
      const { response, url } = await openDownload(profileUrl, bearer, deadline, what)
      const fallback = expected === undefined ? pprofFileName(id) : captureFileName(id, expected.kind)
      const file = output ?? dispositionFileName(response.headers.get('content-disposition')) ?? fallback
      if (output === undefined) await refuseExisting(file, force)
      const total = contentLength(response)
      pending = await createPending(file)
      progress = new ProgressBar(io, file, total)
      const received = await receive(response, pending, deadline, progress, url, file)
      if (total !== undefined && received.bytes !== total) {
        throw runtimeError(
          `${what}: the download was cut at ${received.bytes} of ${total} bytes; nothing was kept`,
        )
      }
      if (expected !== undefined) checkAgainst(expected, received, what)
      await commit(pending, file, force)
      pending = undefined
      progress.finish(
        received.bytes,
        `${formatBytes(received.bytes)}${expected === undefined ? '' : ', sha256 verified'}`,
      )
      io.out(
        flags.boolean('json')
          ? `${JSON.stringify({ id, file, bytes: received.bytes, sha256: received.sha256 }, null, 2)}\n`
          : `${file}\n`,
      )
    } catch (error) {
      progress?.abandon()
      if (pending !== undefined) await discard(pending)
      throw error
    } finally {
      deadline.clear()
    }
  },
}

/** The metadata fields the download is checked against; a capture without a body is refused here. */
function expectedBody(body: unknown, id: string): Expected {
  const meta = body as Partial<CaptureMeta> | null
  if (meta?.status === 'running') {
    throw runtimeError(
      `capture ${id} is still running; pull it when it has ended (tripwire list shows its status)`,
    )
  }
  if (meta?.status === 'failed') {
    const cause = meta.error === undefined ? '' : ` (${meta.error.code}: ${meta.error.message})`
    throw runtimeError(`capture ${id} failed and has no profile${cause}`)
  }
  const kind = meta?.kind
  const bytes = meta?.bytes
  const sha256 = meta?.sha256
  if (
    !isCaptureKind(kind) ||
    typeof bytes !== 'number' ||
    typeof sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(sha256)
  ) {
    throw runtimeError(
      `capture ${id}: the metadata the service sent has no kind, size or sha256 to check against`,
    )
  }
  return { kind, bytes, sha256 }
}

function contentLength(response: Response): number | undefined {
  const raw = response.headers.get('content-length')
  return raw !== null && /^\d{1,15}$/.test(raw) ? Number(raw) : undefined
}

/** Streams the body into the temporary file, hashing it on the way; the deadline restarts with each chunk. */
async function receive(
  response: Response,
  pending: PendingFile,
  deadline: IdleDeadline,
  progress: ProgressBar,
  url: URL,
  file: string,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256')
  let bytes = 0
  try {
    for await (const chunk of bodyChunks(response)) {
      deadline.touch()
      hash.update(chunk)
      try {
        for (let offset = 0; offset < chunk.length;) {
          offset += (await pending.handle.write(chunk, offset)).bytesWritten
        }
      } catch (error) {
        throw fileError(file, error)
      }
      bytes += chunk.length
      progress.update(bytes)
    }
  } catch (error) {
    throw networkError(error, url, true)
  }
  return { bytes, sha256: hash.digest('hex') }
}

function checkAgainst(expected: Expected, received: { bytes: number; sha256: string }, what: string): void {
  if (received.bytes !== expected.bytes) {
    throw runtimeError(
      `${what}: downloaded ${received.bytes} bytes, the metadata says ${expected.bytes}; nothing was kept`,
    )
  }
  if (received.sha256 !== expected.sha256) {
    throw runtimeError(
      `${what}: sha256 mismatch, downloaded ${received.sha256.slice(0, 16)}…, the metadata says ` +
        `${expected.sha256.slice(0, 16)}…; nothing was kept`,
    )
  }
}
