import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { basename } from 'node:path'
import { sendViewerAsset, sendViewerPage, type ViewerAsset } from '@tripwire/core'
import { runtimeError } from '../cli-error.js'
import type { Command } from '../command.js'
import { integerFlag } from '../flag-values.js'
import { parseFlags } from '../flags.js'
import { readProfile } from '../read-profile.js'
import { VIEW_EXAMPLES, VIEW_FLAGS, VIEW_OPERANDS, VIEW_SECTIONS } from './view-flags.js'

const ASSETS: readonly ViewerAsset[] = ['flamegraph.js', 'flamegraph.css']

/**
 * `tripwire view <file>`: the admin API's flame graph, for a profile on disk. It serves on 127.0.0.1 only,
 * under a random path, so that another local user cannot guess the URL of someone's profile.
 */
export const viewCommand: Command = {
  name: 'view',
  summary: 'open a .cpuprofile or .heapprofile as an interactive flame graph in the browser',
  usage: ['view FILE [--port PORT]'],
  description:
    'Serves the flame-graph viewer (the one the admin API serves) for a profile on disk, on 127.0.0.1, and ' +
    'prints the URL to open. It runs until interrupted (Ctrl-C). Nothing leaves the machine: the page loads ' +
    'only its own script, style and the profile.',
  operands: VIEW_OPERANDS,
  sections: VIEW_SECTIONS,
  examples: VIEW_EXAMPLES,
  async run(argv, io) {
    const flags = parseFlags(argv, VIEW_FLAGS, {}, VIEW_OPERANDS)
    const file = flags.operands[0]!
    const rawPort = flags.string('port')
    const port = rawPort === undefined ? 0 : integerFlag('--port', rawPort, 0, 65_535, 'a port')
    const loaded = await readProfile(file)
    const body = Buffer.from(JSON.stringify(loaded.profile))
    const base = `/${randomBytes(16).toString('hex')}`
    const name = basename(file)

    const server = createServer((req, res) => void serve(req, res))
    async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const path = (req.url ?? '').split('?')[0]
      if (req.method !== 'GET' || path === undefined || !path.startsWith(`${base}/`)) {
        res.writeHead(404).end()
        return
      }
      const rest = path.slice(base.length + 1)
      if (rest === '') {
        await sendViewerPage(res, {
          config: {
            id: name,
            kind: loaded.kind,
            title: name,
            profileUrl: `${base}/profile`,
            status: 'completed',
            service: 'a file on disk',
            startedAt: new Date().toISOString(),
            trigger: `tripwire view ${name}`,
          },
          scriptUrl: `${base}/flamegraph.js`,
          stylesheetUrl: `${base}/flamegraph.css`,
        })
        return
      }
      if (rest === 'profile') {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': body.length,
          'cache-control': 'no-store',
        })
        res.end(body)
        return
      }
      const asset = ASSETS.find((candidate) => candidate === rest)
      if (asset !== undefined) return sendViewerAsset(res, asset)
      res.writeHead(404).end()
    }

    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(runtimeError(`cannot serve on 127.0.0.1:${port}: ${error.code ?? error.message}`)),
      )
      server.listen(port, '127.0.0.1', () => resolve())
    })
    const { port: bound } = server.address() as AddressInfo
    io.out(`http://127.0.0.1:${bound}${base}/\n`)
    io.warn('serving the flame graph; press Ctrl-C to stop')
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve())
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
  },
}
