import { readFileSync } from 'node:fs'

/** The package's version, read from its package.json, which sits beside dist/ and src/ alike. */
export function cliVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown
    }
    return typeof manifest.version === 'string' ? manifest.version : 'unknown'
  } catch {
    return 'unknown'
  }
}
