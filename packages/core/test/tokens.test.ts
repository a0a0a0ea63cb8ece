import assert from 'node:assert/strict'
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { describe, test } from 'node:test'
import jwt from 'jsonwebtoken'
import { resolveKeySet, type JwtAlgorithm } from '../src/auth/key-set.js'
import { ReplayCache } from '../src/auth/replay-cache.js'
import { verifyToken, type TokenExpectations } from '../src/auth/token-verifier.js'
import { mintToken } from '../src/auth/token-minter.js'
import { ErrorCodes, isTripwireError } from '../src/errors.js'
import { OptionChecker } from '../src/option-checks.js'

const check = new OptionChecker('createTripwire')
const SECRET = 'a-shared-secret-of-at-least-thirty-two-bytes'
const expect: TokenExpectations = {
  audience: 'checkout',
  issuers: undefined,
  maxLifetimeSec: 300,
  clockToleranceSec: 0,
  scope: 'profiles:trigger',
}
const now = () => Date.now() / 1000

const pairs: { algorithm: JwtAlgorithm; keys: { publicKey: KeyObject; privateKey: KeyObject } }[] = [
  { algorithm: 'RS256', keys: generateKeyPairSync('rsa', { modulusLength: 2048 }) },
  {
    algorithm: 'PS256',
    keys: generateKeyPairSync('rsa-pss', {
      modulusLength: 2048,
      hashAlgorithm: 'sha256',
      mgf1HashAlgorithm: 'sha256',
    }),
  },
  { algorithm: 'ES256', keys: generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
  { algorithm: 'ES384', keys: generateKeyPairSync('ec', { namedCurve: 'P-384' }) },
  { algorithm: 'EdDSA', keys: generateKeyPairSync('ed25519') },
]

describe('minting and verifying every supported algorithm', () => {
  test('HS256 with a shared secret', () => {
    const keys = resolveKeySet(check, [{ kid: 'k1', secret: SECRET }])
    const token = mintToken({
      key: SECRET,
      kid: 'k1',
      audience: 'checkout',
      scope: 'profiles:trigger',
      ttlSec: 60,
      claims: { kind: 'heap' },
    })
    const verdict = verifyToken(token, keys, expect, now())
    assert.ok(verdict.ok, JSON.stringify(verdict))
    assert.equal(verdict.claims.kind, 'heap')
    assert.match(String(verdict.claims.jti), /^[0-9a-f-]{36}$/)
  })

  for (const { algorithm, keys: pair } of pairs) {
    test(`${algorithm} with a public key; the key's type decides the algorithm`, () => {
      const keys = resolveKeySet(check, [{ kid: 'pk', publicKey: pair.publicKey }])
      const token = mintToken({
        key: pair.privateKey,
        kid: 'pk',
        audience: 'checkout',
        scope: 'profiles:trigger',
        ttlSec: 60,
      })
      const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { alg: string }
      assert.equal(header.alg, algorithm)
      assert.ok(verifyToken(token, keys, expect, now()).ok)
      // a flipped signature byte must fail
      const [head, body, signature] = token.split('.') as [string, string, string]
      const bytes = Buffer.from(signature, 'base64url')
      bytes[0] = bytes[0]! ^ 0xff
      const tampered = `${head}.${body}.${bytes.toString('base64url')}`
      assert.deepEqual(verifyToken(tampered, keys, expect, now()), { ok: false, reason: 'bad-signature' })
    })
  }
})

describe('signatures are checked strictly', () => {
  const claims = () => ({ aud: 'checkout', scope: 'profiles:trigger', exp: Math.floor(now()) + 60 })
  /** The same bytes under another spelling: the last base64url character's unused low bits set. */
  const respell = (token: string): string => {
    const last = token.at(-1)!
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const respelled = alphabet[alphabet.indexOf(last) | 1]!
    assert.notEqual(respelled, last, 'the test token must end with an even-valued character')
    const signature = token.split('.')[2]!
    assert.deepEqual(
      Buffer.from(signature.slice(0, -1) + respelled, 'base64url'),
      Buffer.from(signature, 'base64url'),
    )
    return token.slice(0, -1) + respelled
  }

  for (const algorithm of ['HS256', 'HS384', 'HS512'] as const) {
    test(`${algorithm}: valid with the secret, refused with another one`, () => {
      const keys = resolveKeySet(check, [{ kid: 'k', secret: SECRET, algorithms: [algorithm] }])
      const token = jwt.sign(claims(), SECRET, { algorithm, keyid: 'k' })
      assert.ok(verifyToken(token, keys, expect, now()).ok)
      const forged = jwt.sign(claims(), `${SECRET}-but-another`, { algorithm, keyid: 'k' })
      assert.deepEqual(verifyToken(forged, keys, expect, now()), { ok: false, reason: 'bad-signature' })
    })
  }

  test('an HMAC signature spelled another way is refused (one canonical encoding)', () => {
    const keys = resolveKeySet(check, [{ kid: 'k', secret: SECRET }])
    // HS256 signatures are 43 characters, whose last carries 4 unused bits; find a token whose last is even
    let token = ''
    for (let n = 0; n < 64 && !/[ACEGIKMOQSUWYacegikmoqsuwy02468-]$/.test(token); n++) {
      token = jwt.sign({ ...claims(), n }, SECRET, { algorithm: 'HS256', keyid: 'k' })
    }
    assert.ok(verifyToken(token, keys, expect, now()).ok)
    assert.deepEqual(verifyToken(respell(token), keys, expect, now()), { ok: false, reason: 'bad-signature' })
  })

  test('an ES256 signature spelled another way, truncated or in DER is refused', () => {
    const pair = pairs[2]!
    const keys = resolveKeySet(check, [{ kid: 'ec', publicKey: pair.keys.publicKey }])
    let token = ''
    for (let n = 0; n < 64 && !/[ACEGIKMOQSUWYacegikmoqsuwy02468-]$/.test(token); n++) {
      token = jwt.sign({ ...claims(), n }, pair.keys.privateKey, { algorithm: 'ES256', keyid: 'ec' })
    }
    assert.ok(verifyToken(token, keys, expect, now()).ok)
    assert.deepEqual(verifyToken(respell(token), keys, expect, now()), { ok: false, reason: 'bad-signature' })
    const [head, body, signature] = token.split('.') as [string, string, string]
    const truncated = `${head}.${body}.${signature.slice(0, 40)}`
    assert.deepEqual(verifyToken(truncated, keys, expect, now()), { ok: false, reason: 'bad-signature' })
    const der = sign('sha256', Buffer.from(`${head}.${body}`), pair.keys.privateKey).toString('base64url')
    assert.deepEqual(verifyToken(`${head}.${body}.${der}`, keys, expect, now()), {
      ok: false,
      reason: 'bad-signature',
    })
  })
})

describe('verification refuses what it must', () => {
  const keys = resolveKeySet(check, [
    { kid: 'k1', secret: SECRET },
    { kid: 'ec', publicKey: pairs[2]!.keys.publicKey },
  ])
  const hs = (claims: object, secret = SECRET, kid = 'k1') =>
    jwt.sign({ aud: 'checkout', scope: 'profiles:trigger', exp: Math.floor(now()) + 60, ...claims }, secret, {
      algorithm: 'HS256',
      keyid: kid,
    })
  const cases: [string, () => string, string][] = [
    ['an HS256 token sent to an EC key', () => hs({}, SECRET, 'ec'), 'algorithm-not-allowed'],
    [
      'an ES256 token sent to the HMAC key',
      () =>
        mintToken({
          key: pairs[2]!.keys.privateKey,
          kid: 'k1',
          audience: 'checkout',
          scope: 'profiles:trigger',
          ttlSec: 60,
        }),
      'algorithm-not-allowed',
    ],
    [
      'no kid with two keys',
      () => jwt.sign({ aud: 'checkout', scope: 'profiles:trigger', exp: Math.floor(now()) + 60 }, SECRET),
      'unknown-kid',
    ],
    ['four segments', () => `${hs({})}.x`, 'malformed'],
    ['a header that is not JSON', () => `bm90LWpzb24.${hs({}).split('.')[1]}.sig`, 'malformed'],
    [
      'exp as a string',
      () => rawHs256({ aud: 'checkout', scope: 'profiles:trigger', exp: 'tomorrow' }),
      'missing-exp',
    ],
    ['iat in the future', () => hs({ iat: Math.floor(now()) + 600 }), 'not-yet-valid'],
    ['scope as an array', () => hs({ scope: ['profiles:trigger'] }), 'missing-scope'],
    ['a scope that only contains the word', () => hs({ scope: 'xprofiles:trigger' }), 'missing-scope'],
    ['aud as an array without us', () => hs({ aud: ['billing'] }), 'wrong-audience'],
  ]
  for (const [name, token, reason] of cases) {
    test(name, () => assert.deepEqual(verifyToken(token(), keys, expect, now()), { ok: false, reason }))
  }
  test('aud as an array that holds us is accepted', () => {
    assert.ok(verifyToken(hs({ aud: ['billing', 'checkout'] }), keys, expect, now()).ok)
  })
})

/** Signs any payload, even one jsonwebtoken would refuse to sign, as a hostile client could. */
function rawHs256(payload: object): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${encode({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${encode(payload)}`
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`
}

describe('key options', () => {
  const cases: [unknown, RegExp][] = [
    [[{ kid: 'k', secret: 'short' }], /at least 32 bytes/],
    [[{ kid: 'k', publicKey: pairs[0]!.keys.privateKey }], /must be a public key, never a private one/],
    [
      [{ kid: 'k', publicKey: pairs[2]!.keys.publicKey, algorithms: ['RS256'] }],
      /cannot hold "RS256" for this key; it may hold ES256/,
    ],
    [[{ kid: 'k', secret: SECRET, algorithms: ['RS256'] }], /cannot hold "RS256"/],
    [[{ kid: 'k', secret: SECRET, publicKey: pairs[0]!.keys.publicKey }], /exactly one of "secret"/],
    [
      [
        { kid: 'k', secret: SECRET },
        { kid: 'k', secret: SECRET },
      ],
      /repeats "k"/,
    ],
    [[{ kid: 'k', publicKey: 'not a pem' }], /is not a public key Node can read/],
    [[{ kid: 'k', secert: SECRET }], /did you mean "secret"/],
    [[], /non-empty array/],
    [
      [{ kid: 'k', publicKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey }],
      /1024-bit RSA key; use at least 2048 bits/,
    ],
  ]
  for (const [keys, message] of cases) {
    test(`refuses ${JSON.stringify(keys, (_k, v: unknown) => (typeof v === 'object' && v !== null && 'type' in v ? '[KeyObject]' : v)).slice(0, 80)}`, () => {
      assert.throws(
        () => resolveKeySet(check, keys),
        (error: unknown) =>
          isTripwireError(error) && error.code === ErrorCodes.INVALID_OPTIONS && message.test(error.message),
      )
    })
  }
})

describe('replay cache', () => {
  test('a jti is refused until its token expires, and a full cache refuses rather than forgets', () => {
    const cache = new ReplayCache(2)
    assert.equal(cache.use('a', 100, 10), 'ok')
    assert.equal(cache.use('a', 100, 50), 'replayed')
    assert.equal(cache.use('b', 200, 50), 'ok')
    assert.equal(cache.use('c', 200, 60), 'full', 'neither a nor b has expired')
    assert.equal(cache.use('c', 200, 150), 'ok', 'a expired at 100 and was swept')
    assert.equal(cache.use('a', 300, 150), 'full')
    assert.equal(cache.size, 2)
  })
})

describe('mintToken refuses what it cannot sign, with a coded error', () => {
  const base = { kid: 'k', audience: 'checkout', scope: 'profiles:trigger', ttlSec: 60 }
  const cases: [string, () => unknown, RegExp][] = [
    [
      'an asymmetric algorithm with a secret',
      () => mintToken({ ...base, key: SECRET, algorithm: 'ES256' }),
      /needs a private key/,
    ],
    [
      'ES384 with a P-256 key',
      () => mintToken({ ...base, key: pairs[2]!.keys.privateKey, algorithm: 'ES384' }),
      /cannot sign ES384; it signs ES256/,
    ],
    [
      'an RSA key under 2048 bits',
      () => mintToken({ ...base, key: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey }),
      /1024 bits; 2048 or more/,
    ],
  ]
  for (const [name, mint, message] of cases) {
    test(name, () => {
      assert.throws(
        mint,
        (error) =>
          isTripwireError(error) && error.code === ErrorCodes.INVALID_OPTIONS && message.test(error.message),
      )
    })
  }

  test('every algorithm it signs verifies, and so do tokens signed by jsonwebtoken', () => {
    for (const algorithm of ['HS256', 'HS384', 'HS512'] as const) {
      const keys = resolveKeySet(check, [{ kid: 'k', secret: SECRET, algorithms: [algorithm] }])
      assert.ok(
        verifyToken(mintToken({ ...base, key: SECRET, algorithm }), keys, expect, now()).ok,
        algorithm,
      )
    }
    const rsa = pairs[0]!.keys
    for (const algorithm of ['RS256', 'RS512', 'PS256', 'PS512'] as const) {
      const keys = resolveKeySet(check, [{ kid: 'k', publicKey: rsa.publicKey, algorithms: [algorithm] }])
      assert.ok(
        verifyToken(mintToken({ ...base, key: rsa.privateKey, algorithm }), keys, expect, now()).ok,
        algorithm,
      )
      const byLibrary = jwt.sign(
        { aud: 'checkout', scope: 'profiles:trigger', exp: Math.floor(now()) + 60 },
        rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
        { algorithm, keyid: 'k' },
      )
      assert.ok(verifyToken(byLibrary, keys, expect, now()).ok, `${algorithm} signed by jsonwebtoken`)
    }
  })
})
