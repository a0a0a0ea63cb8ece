/** `npm run demo` must keep working: run the built demo in a scratch directory and read what it prints. */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const DEMO = fileURLToPath(new URL('../packages/demo/dist/main.js', import.meta.url))

for (const framework of ['express', 'koa', 'fastify']) {
  test(`the ${framework} demo triggers, lists, downloads and summarises a capture, and exits 0`, async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'tripwire-demo-'))
    try {
      const args = [DEMO, '--framework', framework]
      const { stdout } = await promisify(execFile)(process.execPath, args, { cwd, timeout: 60_000 })
      assert.match(stdout, /x-profile-status: accepted/)
      assert.match(stdout, /x-profile-id: \d{8}T\d{6}Z-cpu-[0-9a-f]{8}/)
      assert.match(stdout, /200, \d+ bytes, attachment; filename="[^"]+\.cpuprofile"/)
      // the slow route's own function is the hottest
      const hottest = /self\s+total\s+function\n\s+[\d.]+ %\s+[\d.]+ %\s+(\S+)/.exec(stdout)
      assert.equal(hottest?.[1], 'quoteShipping', stdout)
      const stored = await readdir(join(cwd, 'profiles'))
      assert.equal(stored.filter((name) => name.endsWith('.cpuprofile')).length, 1)
      assert.equal(stored.filter((name) => name.endsWith('.json')).length, 1)
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })
}
