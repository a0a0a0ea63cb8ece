import { createSecretKey, type KeyObject } from 'node:crypto'
import type { JwtAlgorithm } from '@tripwire/core'
import { runtimeError, usageError } from '../cli-error.js'
import { algorithmsForKey } from '../key-algorithms.js'
import { privateKeyFromFile } from '../read-private-key.js'
import { secretFromEnv, secretFromFile } from '../read-secret.js'
import type { KeySource } from './token-plan.js'

export interface SigningKey {
  key: KeyObject
  algorithm: JwtAlgorithm
}

/**
 * Loads the key and settles the algorithm. A secret goes to the minter as a secret `KeyObject`, so it can never
 * be mistaken for PEM text; a private key must fit the algorithm, as the service's key table demands.
 */
export function loadSigningKey(
  source: KeySource,
  requested: JwtAlgorithm | undefined,
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void,
): SigningKey {
  if (source.type === 'env') {
    return { key: createSecretKey(secretFromEnv(source.name, env)), algorithm: requested ?? 'HS256' }
  }
  if (source.type === 'secret-file') {
    return { key: createSecretKey(secretFromFile(source.path, warn)), algorithm: requested ?? 'HS256' }
  }
  const key = privateKeyFromFile(source.path, warn)
  const fits = algorithmsForKey(key)
  const type = describeKey(key)
  const [implied] = fits
  if (implied === undefined) {
    throw runtimeError(
      `--key-file ${source.path}: ${type} keys cannot sign Tripwire tokens; use RSA, EC P-256/384/521 or Ed25519`,
    )
  }
  if (requested !== undefined && !fits.includes(requested)) {
    throw usageError(`--alg ${requested} does not fit this ${type} key; it signs with ${fits.join(', ')}`)
  }
  return { key, algorithm: requested ?? implied }
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve
  return `${key.asymmetricKeyType ?? 'unknown'}${curve === undefined ? '' : ` ${curve}`}`
}
