import { createPrivateKey, type KeyObject } from 'node:crypto'
import { oneLine, runtimeError } from './cli-error.js'
import { exposureWarning, readSmallFile } from './read-small-file.js'

/**
 * The PEM private key in a file. Public keys, certificates, encrypted keys and non-PEM content are refused
 * with a line that says what to pass instead: the service holds the public half, the CLI the private one.
 */
export function privateKeyFromFile(path: string, warn: (message: string) => void): KeyObject {
  const file = readSmallFile('--key-file', path)
  const text = file.bytes.toString('utf8')
  if (!text.includes('-----BEGIN')) {
    throw runtimeError(
      `--key-file ${path}: not a PEM key (no -----BEGIN line); for an HMAC secret use --secret-file`,
    )
  }
  if (/-----BEGIN (?:RSA |EC )?PUBLIC KEY-----|-----BEGIN CERTIFICATE-----/.test(text)) {
    throw runtimeError(
      `--key-file ${path}: holds a public key; tokens are signed with the private key (the service is configured with the public one)`,
    )
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    throw runtimeError(
      `--key-file ${path}: the key is passphrase-protected; decrypt a copy with: openssl pkey -in ${path} -out PLAIN.pem`,
    )
  }
  let key: KeyObject
  try {
    key = createPrivateKey(text)
  } catch (error) {
    throw runtimeError(
      `--key-file ${path}: not a private key Node can read: ${oneLine(error instanceof Error ? error.message : String(error))}`,
    )
  }
  const warning = exposureWarning('--key-file', path, file)
  if (warning !== undefined) warn(warning)
  return key
}
