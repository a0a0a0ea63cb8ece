import { runtimeError, usageError } from './cli-error.js'
import { exposureWarning, readSmallFile } from './read-small-file.js'

/** Where the secret comes from when no key flag is given. */
export const DEFAULT_SECRET_ENV = 'TRIPWIRE_SECRET'
/** Tripwire services refuse shorter HMAC secrets, so a token signed with one could never be accepted. */
export const MIN_SECRET_BYTES = 32

/** Names worth repeating in an error; anything else may be the secret itself pasted by mistake. */
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/

/** The HMAC secret held by an environment variable, byte for byte as a service reading it would see it. */
export function secretFromEnv(name: string, env: NodeJS.ProcessEnv): Buffer {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw usageError(
      '--secret-env takes the NAME of an environment variable (such as TRIPWIRE_SECRET), not the secret',
    )
  }
  const shown = ENV_NAME.test(name) ? name : 'the variable named by --secret-env'
  const value = env[name]
  if (value === undefined) throw runtimeError(`--secret-env: ${shown} is not set in the environment`)
  return checkSecret(Buffer.from(value), shown)
}

/** The HMAC secret in a file, without one trailing newline (what `echo` and editors add). */
export function secretFromFile(path: string, warn: (message: string) => void): Buffer {
  const file = readSmallFile('--secret-file', path)
  const warning = exposureWarning('--secret-file', path, file)
  if (warning !== undefined) warn(warning)
  const { bytes } = file
  const end =
    bytes.at(-1) === 0x0a ? (bytes.at(-2) === 0x0d ? bytes.length - 2 : bytes.length - 1) : bytes.length
  return checkSecret(bytes.subarray(0, end), path)
}

function checkSecret(secret: Buffer, where: string): Buffer {
  if (secret.length === 0) throw runtimeError(`the secret in ${where} is empty`)
  if (secret.includes('-----BEGIN')) {
    throw runtimeError(`${where} holds a PEM key, not an HMAC secret; pass private keys with --key-file`)
  }
  if (secret.length < MIN_SECRET_BYTES) {
    throw runtimeError(
      `the secret in ${where} is ${secret.length} bytes; Tripwire services require at least ` +
        `${MIN_SECRET_BYTES} (make one with: openssl rand -base64 48)`,
    )
  }
  return secret
}
