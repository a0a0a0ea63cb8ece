import assert from 'node:assert/strict'
import { createHmac, createSecretKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { resolveKeySet, type JwtAlgorithm } from '../src/auth/key-set.js'
import { mintToken } from '../src/auth/token-minter.js'
import {
  MAX_TOKEN_LENGTH,
  verifyToken,
  type TokenExpectations,
  type TokenRejection,
} from '../src/auth/token-verifier.js'
import { createTripwire, type TripwireController } from '../src/controller.js'
import { OptionChecker } from '../src/option-checks.js'
import { LocalDiskSink } from '../src/sinks/local-disk.js'
import { HeaderTrigger } from '../src/trigger/header-trigger.js'

const SECRET = 'the-shared-secret-of-at-least-32-bytes-for-hs256'
const OTHER_SECRET = 'another-shared-secret-of-at-least-32-bytes-long'
const AUDIENCE = 'checkout'
const ISSUER = 'https://id.example'
const ISSUERS = [ISSUER, 'ops']
const TRIGGER_SCOPE = 'profiles:trigger'
const MAX_LIFETIME_SEC = 300
/** The controller's default limits.maxDurationMs, the longest window a trigger token may ask for. */
const MAX_DURATION_MS = 30_000
/** A fixed clock for the verifier, so that no property depends on how long a run takes. */
const NOW_SEC = 1_900_000_000.5
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const REGISTERED_CLAIMS = new Set(['exp', 'iat', 'nbf', 'jti', 'sub', 'aud', 'iss', 'scope'])
/** Claim names that a lookup in a plain object finds even when nobody set them. */
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype)
const EVERY_REJECTION: readonly TokenRejection[] = [
  'too-long',
  'malformed',
  'unknown-kid',
  'algorithm-not-allowed',
  'bad-signature',
  'over-verification-budget',
  'missing-exp',
  'expired',
  'not-yet-valid',
  'lifetime-too-long',
  'wrong-audience',
  'wrong-issuer',
  'missing-scope',
]
/** Refusals decided by the cheap checks, which must never spend the verification budget. */
const CHEAP_REJECTIONS: readonly TokenRejection[] = [
  'too-long',
  'malformed',
  'unknown-kid',
  'algorithm-not-allowed',
]

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const ed = generateKeyPairSync('ed25519')
const checker = new OptionChecker('fuzz')
/** Several keys, so that a token without a kid matches none of them. */
const keys = resolveKeySet(checker, [
  { kid: 'hs', secret: SECRET },
  { kid: 'hs-other', secret: OTHER_SECRET },
  { kid: 'es', publicKey: ec.publicKey },
  { kid: 'ed', publicKey: ed.publicKey },
])
const KIDS = ['hs', 'hs-other', 'es', 'ed']

interface Signer {
  kid: string
  alg: JwtAlgorithm
  key: KeyObject
}
const SIGNERS: readonly Signer[] = [
  { kid: 'hs', alg: 'HS256', key: createSecretKey(Buffer.from(SECRET)) },
  { kid: 'es', alg: 'ES256', key: ec.privateKey },
  { kid: 'ed', alg: 'EdDSA', key: ed.privateKey },
]

const expectations = (clockToleranceSec = 30): TokenExpectations => ({
  audience: AUDIENCE,
  issuers: ISSUERS,
  maxLifetimeSec: MAX_LIFETIME_SEC,
  clockToleranceSec,
  scope: TRIGGER_SCOPE,
})

const encodeJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A JWS signature over `signingInput` the way a conforming issuer makes it (ECDSA as r ‖ s). */
function signature(alg: JwtAlgorithm, key: KeyObject, signingInput: string): string {
  const data = Buffer.from(signingInput)
  if (alg === 'HS256') return createHmac('sha256', key).update(data).digest('base64url')
  if (alg === 'ES256') return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')
  if (alg === 'EdDSA') return sign(null, data, key).toString('base64url')
  throw new Error(`the fuzz signer does not sign ${alg}`)
}

function signToken(signer: Signer, payload: unknown, header: unknown = { alg: signer.alg, kid: signer.kid }) {
  const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`
  return `${signingInput}.${signature(signer.alg, signer.key, signingInput)}`
}

const segmentsOf = (token: string) => token.split('.') as [string, string, string]
const decodeJson = (segment: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>

/** Verifies with a budget that records whether it was asked, i.e. whether any cryptography could run. */
function verifyCounting(token: string, clockToleranceSec = 30, allow = true) {
  let asked = 0
  const verdict = verifyToken(token, keys, expectations(clockToleranceSec), NOW_SEC, {
    take: () => {
      asked++
      return allow
    },
    // never spent ahead of time: `take` alone decides, once the token has the full shape
    spent: () => false,
  })
  return { verdict, asked }
}

// ---------------------------------------------------------------------------------------------------------
// Generators

/**
 * Any code point, lone surrogates included, mostly ASCII. Cheaper to start than fast-check's 'binary' unit,
 * which spends seconds on its first use.
 */
const anyCodePoint = fc
  .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x10ffff }))
  .map((code) => String.fromCodePoint(code))

const word = fc.string({ minLength: 1, maxLength: 12 }).filter((value) => !value.includes(' '))

/** Claims the verifier must accept at NOW_SEC with the given tolerance: every time bound honoured. */
const legalClaims = (clockToleranceSec: number) =>
  fc
    .record({
      // iat from 200 s ago up to the tolerance ahead; absent means "lifetime counted from now"
      iatOffset: fc.option(fc.integer({ min: -200, max: clockToleranceSec }), { nil: undefined }),
      nbfOffset: fc.option(fc.integer({ min: -1000, max: clockToleranceSec }), { nil: undefined }),
      lifetimeShare: fc.double({ min: 0, max: 1, noNaN: true }),
      scopeWords: fc.array(word, { maxLength: 4 }),
      scopeAt: fc.nat(),
      audience: fc.oneof(
        fc.constant<string | string[]>(AUDIENCE),
        fc
          .tuple(fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), fc.nat())
          .map(([others, at]) => others.toSpliced(at % (others.length + 1), 0, AUDIENCE)),
      ),
      iss: fc.constantFrom(...ISSUERS),
      jti: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
      sub: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
      extra: fc.dictionary(
        fc.string({ maxLength: 12 }).filter((name) => !REGISTERED_CLAIMS.has(name)),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 4 },
      ),
    })
    .map((drawn) => {
      const nowWhole = Math.floor(NOW_SEC)
      const iat = drawn.iatOffset === undefined ? undefined : nowWhole + drawn.iatOffset
      // exp - (iat ?? now) <= MAX_LIFETIME_SEC, and exp + tolerance > now
      const base = iat ?? nowWhole
      const shortest = Math.max(1, nowWhole + 1 - clockToleranceSec - base)
      const lifetime = shortest + Math.floor(drawn.lifetimeShare * (MAX_LIFETIME_SEC - shortest))
      const scope = drawn.scopeWords.toSpliced(
        drawn.scopeAt % (drawn.scopeWords.length + 1),
        0,
        TRIGGER_SCOPE,
      )
      return {
        ...drawn.extra,
        exp: base + lifetime,
        ...(iat !== undefined && { iat }),
        ...(drawn.nbfOffset !== undefined && { nbf: nowWhole + drawn.nbfOffset }),
        scope: scope.join(' '),
        aud: drawn.audience,
        iss: drawn.iss,
        ...(drawn.jti !== undefined && { jti: drawn.jti }),
        ...(drawn.sub !== undefined && { sub: drawn.sub }),
      }
    })

const tolerance = fc.integer({ min: 0, max: 60 })
const signerArb = fc.constantFrom(...SIGNERS)

/** A genuinely valid token at NOW_SEC, with the tolerance it was made for. */
const validToken = fc.tuple(signerArb, tolerance).chain(([signer, clockToleranceSec]) =>
  legalClaims(clockToleranceSec).map((claims) => ({
    signer,
    clockToleranceSec,
    claims,
    token: signToken(signer, claims),
  })),
)

/** Strings shaped more or less like tokens: the verifier's regular expression and decoders get exercised. */
const tokenShapedString = fc.oneof(
  fc.string({ unit: anyCodePoint, maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc
    .array(fc.string({ unit: fc.constantFrom(...BASE64URL, '=', '+', '/', ' '), maxLength: 80 }), {
      minLength: 1,
      maxLength: 8,
    })
    .map((parts) => parts.join('.')),
  fc.integer({ min: 1, max: 5000 }).map((dots) => '.'.repeat(dots)),
  // around the length limit, in the token alphabet, so the shape check is what must refuse it
  fc
    .tuple(
      fc.integer({ min: MAX_TOKEN_LENGTH - 4, max: MAX_TOKEN_LENGTH + 4 }),
      fc.constantFrom('a', 'a.b.c'),
    )
    .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length)),
  fc.constant('x'.repeat(200_000)),
)

/** JSON headers of every sort, encoded, with payloads and signatures that no key made. */
const forgedStructure = fc
  .record({
    alg: fc.oneof(
      fc.constantFrom('none', 'None', 'HS256', 'HS384', 'HS512', 'ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'),
      fc.constantFrom('hs256', '', 'constructor', '__proto__', 'toString'),
      fc.string({ maxLength: 10 }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    kid: fc.option(
      fc.oneof(
        fc.constantFrom(...KIDS, 'unknown', '', '__proto__'),
        fc.string({ maxLength: 10 }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      { nil: undefined },
    ),
    extraHeader: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    payload: fc.oneof(fc.jsonValue({ maxDepth: 2 }), legalClaims(30)),
    signatureSegment: fc.oneof(
      fc.constant(''),
      fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength: 120 }),
      fc
        .uint8Array({ minLength: 0, maxLength: 132 })
        .map((bytes) => Buffer.from(bytes).toString('base64url')),
    ),
  })
  .map(({ alg, kid, extraHeader, payload, signatureSegment }) => {
    const header = { ...extraHeader, alg, ...(kid !== undefined && { kid }) }
    return `${encodeJson(header)}.${encodeJson(payload)}.${signatureSegment}`
  })

type Mutation =
  | { kind: 'replace' | 'insert'; at: number; char: string }
  | { kind: 'delete'; at: number }
  | { kind: 'swap'; first: number; second: number }
  | { kind: 'drop'; segment: number }
  | { kind: 'repeat'; segment: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('replace' as const, 'insert' as const),
    at: fc.nat(),
    char: fc.oneof(
      fc.constantFrom(...BASE64URL),
      fc.constantFrom('.', '=', '+', '/', ' ', '\0', '\n', '%', 'é', '😀'),
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('swap' as const),
    first: fc.integer({ min: 0, max: 2 }),
    second: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({
    kind: fc.constantFrom('drop' as const, 'repeat' as const),
    segment: fc.integer({ min: 0, max: 2 }),
  }),
)

function mutate(token: string, change: Mutation): string {
  const segments = segmentsOf(token)
  switch (change.kind) {
    case 'replace': {
      const at = change.at % token.length
      return token.slice(0, at) + change.char + token.slice(at + 1)
    }
    case 'insert': {
      const at = change.at % (token.length + 1)
      return token.slice(0, at) + change.char + token.slice(at)
    }
    case 'delete': {
      const at = change.at % token.length
      return token.slice(0, at) + token.slice(at + 1)
    }
    case 'swap': {
      const swapped = [...segments]
      swapped[change.first] = segments[change.second]!
      swapped[change.second] = segments[change.first]!
      return swapped.join('.')
    }
    case 'drop':
      return segments.toSpliced(change.segment, 1).join('.')
    case 'repeat':
      return segments.toSpliced(change.segment, 0, segments[change.segment]!).join('.')
  }
}

/** The same bytes spelled differently, or the same JSON value under other bytes: never the signed text. */
type Reencoding =
  | 'indented header'
  | 'indented payload'
  | 'escaped header'
  | 'reordered payload'
  | 'padded segment'
  | 'standard alphabet'
  | 'respelled signature'
  | 'der signature'

const REENCODINGS: readonly Reencoding[] = [
  'indented header',
  'indented payload',
  'escaped header',
  'reordered payload',
  'padded segment',
  'standard alphabet',
  'respelled signature',
  'der signature',
]

function reencode(
  token: string,
  how: Reencoding,
  signer: Signer,
  segment: number,
  order: number[],
): string | undefined {
  const [header, payload, sig] = segmentsOf(token)
  const text = (json: string) => Buffer.from(json).toString('base64url')
  switch (how) {
    case 'indented header':
      return `${text(JSON.stringify(decodeJson(header), null, 1))}.${payload}.${sig}`
    case 'indented payload':
      return `${header}.${text(JSON.stringify(decodeJson(payload), null, 1))}.${sig}`
    case 'escaped header':
      // "\u0061lg" is the same member name as "alg" once parsed
      return `${text(JSON.stringify(decodeJson(header)).replace('"alg"', '"\\u0061lg"'))}.${payload}.${sig}`
    case 'reordered payload': {
      const claims = decodeJson(payload)
      const names = Object.keys(claims)
      const reordered = order
        .filter((index) => index < names.length)
        .concat(names.map((_, index) => index).filter((index) => !order.includes(index)))
        .map((index) => [names[index]!, claims[names[index]!]] as const)
      return `${header}.${text(JSON.stringify(Object.fromEntries(reordered)))}.${sig}`
    }
    case 'padded segment': {
      const parts = [header, payload, sig]
      parts[segment] = `${parts[segment]!}=`
      return parts.join('.')
    }
    case 'standard alphabet': {
      const parts = [header, payload, sig]
      parts[segment] = parts[segment]!.replaceAll('-', '+').replaceAll('_', '/')
      return parts.join('.')
    }
    case 'respelled signature': {
      // the last character carries unused low bits: flipping one keeps the decoded bytes
      const last = BASE64URL[BASE64URL.indexOf(sig.at(-1)!) ^ 1]!
      const respelled = sig.slice(0, -1) + last
      assert.deepEqual(Buffer.from(respelled, 'base64url'), Buffer.from(sig, 'base64url'))
      return `${header}.${payload}.${respelled}`
    }
    case 'der signature':
      if (signer.alg !== 'ES256') return undefined
      return `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), signer.key).toString('base64url')}`
  }
}

// ---------------------------------------------------------------------------------------------------------

describe('verifyToken under arbitrary input', () => {
  test('no string throws or is accepted; garbage is refused before any cryptography', () => {
    fc.assert(
      fc.property(tokenShapedString, tolerance, (token, clockToleranceSec) => {
        const { verdict, asked } = verifyCounting(token, clockToleranceSec)
        assert.equal(verdict.ok, false)
        if (verdict.ok) return
        assert.ok(EVERY_REJECTION.includes(verdict.reason), verdict.reason)
        if (token.length > MAX_TOKEN_LENGTH) assert.equal(verdict.reason, 'too-long')
        if (CHEAP_REJECTIONS.includes(verdict.reason)) assert.equal(asked, 0, verdict.reason)
        assert.ok(asked <= 1)
      }),
      { numRuns: 300 },
    )
  })

  test('headers of every shape with foreign signatures are refused, and only a full shape costs budget', () => {
    fc.assert(
      fc.property(forgedStructure, fc.boolean(), (token, budgetAllows) => {
        const { verdict, asked } = verifyCounting(token, 30, budgetAllows)
        assert.equal(verdict.ok, false, token)
        if (verdict.ok) return
        assert.ok(EVERY_REJECTION.includes(verdict.reason), verdict.reason)
        if (CHEAP_REJECTIONS.includes(verdict.reason)) assert.equal(asked, 0)
        if (asked === 1) {
          assert.equal(verdict.reason, budgetAllows ? 'bad-signature' : 'over-verification-budget')
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe('verifyToken against genuinely signed tokens', () => {
  test('valid tokens with random legal claims are accepted, claims intact (HS256, ES256, EdDSA)', () => {
    fc.assert(
      fc.property(validToken, ({ token, claims, clockToleranceSec }) => {
        const verdict = verifyToken(token, keys, expectations(clockToleranceSec), NOW_SEC)
        assert.ok(verdict.ok, JSON.stringify(verdict))
        assert.deepEqual(verdict.claims, JSON.parse(JSON.stringify(claims)))
      }),
      { numRuns: 150 },
    )
  })

  const mintable = [
    { kid: 'hs', key: SECRET as string | KeyObject },
    { kid: 'es', key: ec.privateKey },
    { kid: 'ed', key: ed.privateKey },
  ]

  test('tokens from mintToken are accepted with the claims they were minted with', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...mintable),
        fc.record({
          ttlSec: fc.integer({ min: 2, max: MAX_LIFETIME_SEC }),
          subject: fc.option(fc.string({ minLength: 1, maxLength: 30 }), { nil: undefined }),
          issuer: fc.constantFrom(...ISSUERS),
          scopeWords: fc.array(word, { maxLength: 3 }),
          claims: fc.dictionary(
            // names shared with Object.prototype have a property of their own, below
            fc
              .string({ maxLength: 12 })
              .filter((name) => !REGISTERED_CLAIMS.has(name) && !PROTOTYPE_NAMES.includes(name)),
            fc.jsonValue({ maxDepth: 2 }),
            { maxKeys: 4 },
          ),
        }),
        ({ kid, key }, options) => {
          const scope = [...options.scopeWords, TRIGGER_SCOPE].join(' ')
          const token = mintToken({
            key,
            kid,
            audience: AUDIENCE,
            issuer: options.issuer,
            ...(options.subject !== undefined && { subject: options.subject }),
            scope,
            ttlSec: options.ttlSec,
            claims: options.claims,
          })
          const verdict = verifyToken(token, keys, expectations(0), Date.now() / 1000)
          assert.ok(verdict.ok, JSON.stringify(verdict))
          const { claims } = verdict
          assert.deepEqual(
            Object.fromEntries(Object.keys(options.claims).map((name) => [name, claims[name]])),
            JSON.parse(JSON.stringify(options.claims)),
          )
          assert.equal(claims.scope, scope)
          assert.equal(claims.aud, AUDIENCE)
          assert.equal(claims.iss, options.issuer)
          assert.equal(claims.sub, options.subject)
          assert.equal(claims.exp - claims.iat!, options.ttlSec)
          assert.equal(typeof claims.jti, 'string')
        },
      ),
      { numRuns: 60 },
    )
  })

  test('mintToken signs claims whatever their names, even those of Object.prototype members', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...mintable),
        fc.constantFrom(...PROTOTYPE_NAMES),
        fc.jsonValue({ maxDepth: 1 }),
        ({ kid, key }, name, value) => {
          // Object.fromEntries makes an own property even of "__proto__"
          const claims = Object.fromEntries([[name, value]]) as Record<string, unknown>
          let token: string
          try {
            token = mintToken({
              key,
              kid,
              audience: AUDIENCE,
              issuer: ISSUER,
              scope: TRIGGER_SCOPE,
              ttlSec: 60,
              claims,
            })
          } catch (error) {
            assert.fail(`mintToken (${kid}) threw for the claim ${JSON.stringify(name)}: ${String(error)}`)
          }
          const verdict = verifyToken(token, keys, expectations(0), Date.now() / 1000)
          assert.ok(verdict.ok, JSON.stringify(verdict))
          assert.ok(Object.hasOwn(verdict.claims, name))
          assert.deepEqual(verdict.claims[name], JSON.parse(JSON.stringify(value)))
        },
      ),
      { numRuns: 40 },
    )
  })

  test('any one-character edit, deleted, swapped or repeated segment of a valid token is refused', () => {
    fc.assert(
      fc.property(validToken, mutation, ({ token, clockToleranceSec }, change) => {
        const mutated = mutate(token, change)
        fc.pre(mutated !== token)
        assert.ok(verifyToken(token, keys, expectations(clockToleranceSec), NOW_SEC).ok)
        const verdict = verifyToken(mutated, keys, expectations(clockToleranceSec), NOW_SEC)
        assert.equal(verdict.ok, false, `${JSON.stringify(change)} was accepted: ${mutated}`)
      }),
      { numRuns: 300 },
    )
  })

  test('a valid token re-encoded (other JSON bytes, padding, alphabet, signature spelling, DER) is refused', () => {
    fc.assert(
      fc.property(
        validToken,
        fc.constantFrom(...REENCODINGS),
        fc.integer({ min: 0, max: 2 }),
        fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]),
        ({ token, signer, clockToleranceSec }, how, segment, order) => {
          const reencoded = reencode(token, how, signer, segment, order)
          fc.pre(reencoded !== undefined && reencoded !== token)
          const verdict = verifyToken(reencoded, keys, expectations(clockToleranceSec), NOW_SEC)
          assert.equal(verdict.ok, false, `${how} was accepted: ${reencoded}`)
        },
      ),
      { numRuns: 200 },
    )
  })

  test('header rewrites (alg none, HS256 keyed with a public key, other or no kid) are refused', () => {
    const publicPem = {
      es: ec.publicKey.export({ type: 'spki', format: 'pem' }),
      ed: ed.publicKey.export({ type: 'spki', format: 'pem' }),
    }
    type Rewrite =
      'alg none' | 'hmac with a public key' | 'other kid' | 'no kid' | 'unknown kid' | 'other alg'
    const rewrites: Rewrite[] = [
      'alg none',
      'hmac with a public key',
      'other kid',
      'no kid',
      'unknown kid',
      'other alg',
    ]
    fc.assert(
      fc.property(
        validToken,
        fc.constantFrom(...rewrites),
        fc.constantFrom('es' as const, 'ed' as const),
        fc.constantFrom(...KIDS),
        fc.constantFrom<string>('HS256', 'HS384', 'HS512', 'ES256', 'ES384', 'EdDSA', 'RS256', 'none'),
        fc.boolean(),
        ({ token, signer, clockToleranceSec }, rewrite, publicKid, otherKid, otherAlg, keepSignature) => {
          const [headerSegment, payloadSegment, sig] = segmentsOf(token)
          const header = decodeJson(headerSegment)
          let forged: string
          switch (rewrite) {
            case 'alg none': {
              const input = `${encodeJson({ ...header, alg: 'none' })}.${payloadSegment}`
              forged = `${input}.${keepSignature ? sig : ''}`
              break
            }
            case 'hmac with a public key': {
              // the classic confusion: the verifier's own public key, used as an HMAC secret
              const input = `${encodeJson({ alg: 'HS256', kid: publicKid })}.${payloadSegment}`
              forged = `${input}.${createHmac('sha256', publicPem[publicKid]).update(input).digest('base64url')}`
              break
            }
            case 'other kid':
              fc.pre(otherKid !== signer.kid)
              forged = `${encodeJson({ ...header, kid: otherKid })}.${payloadSegment}.${sig}`
              break
            case 'no kid':
              // JSON leaves an undefined member out; with several keys, no key is "the only one"
              forged = `${encodeJson({ ...header, kid: undefined })}.${payloadSegment}.${sig}`
              break
            case 'unknown kid':
              forged = `${encodeJson({ ...header, kid: `${signer.kid}-retired` })}.${payloadSegment}.${sig}`
              break
            case 'other alg':
              fc.pre(otherAlg !== signer.alg)
              forged = `${encodeJson({ ...header, alg: otherAlg })}.${payloadSegment}.${sig}`
              break
          }
          const verdict = verifyToken(forged, keys, expectations(clockToleranceSec), NOW_SEC)
          assert.equal(verdict.ok, false, `${rewrite} was accepted: ${forged}`)
          if (rewrite === 'hmac with a public key' && !verdict.ok) {
            assert.equal(verdict.reason, 'algorithm-not-allowed')
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('HeaderTrigger under arbitrary x-trigger-profile values', () => {
  let dir: string
  let controller: TripwireController
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tripwire-fuzz-trigger-'))
    controller = createTripwire({
      service: AUDIENCE,
      sink: new LocalDiskSink({ dir }),
      keys: [
        { kid: 'hs', secret: SECRET },
        { kid: 'es', publicKey: ec.publicKey },
        { kid: 'ed', publicKey: ed.publicKey },
      ],
      // the budget would otherwise refuse most of the run unverified, hiding what verification does
      token: { maxVerificationsPerSec: 1_000_000 },
    })
  })
  after(async () => {
    await controller.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Legal trigger claims as of the real clock (HeaderTrigger reads Date.now()). */
  const triggerClaims = () => {
    const now = Math.floor(Date.now() / 1000)
    return { aud: AUDIENCE, scope: TRIGGER_SCOPE, iat: now, exp: now + 60, jti: `${now}-${Math.random()}` }
  }
  type Claims = Record<string, unknown>
  /** Claims that are signed by a known key and yet must be refused: each breaks one rule. */
  const badClaimEdits: fc.Arbitrary<(claims: Claims) => Claims> = fc.oneof(
    fc.constant((c: Claims) => ({ ...c, scope: 'profiles:read profiles:write' })),
    fc.integer({ min: 31, max: 10_000 }).map((ago) => (c: Claims) => ({
      ...c,
      iat: (c.iat as number) - ago - 60,
      exp: (c.iat as number) - ago,
    })),
    fc
      .integer({ min: 301, max: 100_000 })
      .map((ttl) => (c: Claims) => ({ ...c, exp: (c.iat as number) + ttl })),
    fc
      .integer({ min: 31, max: 1000 })
      .map((ahead) => (c: Claims) => ({ ...c, nbf: (c.iat as number) + ahead })),
    fc
      .string({ maxLength: 12 })
      .map((aud) => (c: Claims) => ({ ...c, aud: aud === AUDIENCE ? `${aud}!` : aud })),
    fc.constant((c: Claims) => ({ ...c, exp: undefined })),
    fc.constant((c: Claims) => ({ ...c, jti: undefined })),
    fc
      .oneof(fc.constant(''), fc.constant('j'.repeat(257)), fc.jsonValue({ maxDepth: 1 }))
      .filter((jti) => typeof jti !== 'string' || jti === '' || jti.length > 256)
      .map((jti) => (c: Claims) => ({ ...c, jti })),
    fc
      .oneof(fc.constantFrom('gpu', 'CPU', 'heapsnapshot', ''), fc.string({ maxLength: 8 }), fc.integer())
      .filter((kind) => kind !== 'cpu' && kind !== 'heap')
      .map((kind) => (c: Claims) => ({ ...c, kind })),
    fc
      .record({
        mode: fc.oneof(fc.constantFrom('window', 'instant', 'Window', ''), fc.string({ maxLength: 8 })),
        dur: fc.option(
          fc.oneof(fc.integer({ min: -5, max: 0 }), fc.integer({ min: MAX_DURATION_MS + 1 }), fc.double()),
          {
            nil: undefined,
          },
        ),
      })
      .filter(
        ({ mode, dur }) =>
          mode !== 'request' &&
          !(mode === 'window' && Number.isInteger(dur) && dur! >= 1 && dur! <= MAX_DURATION_MS),
      )
      .map((extra) => (c: Claims) => ({ ...c, ...extra })),
    fc
      .integer({ min: 1, max: MAX_DURATION_MS })
      .map((dur) => (c: Claims) => ({ ...c, mode: 'request', dur })),
    fc
      .jsonValue({ maxDepth: 1 })
      .filter((sub) => typeof sub !== 'string')
      .map((sub) => (c: Claims) => ({ ...c, sub })),
  )
  const signedButBad = fc
    .tuple(signerArb, badClaimEdits)
    .map(([signer, edit]) => signToken(signer, JSON.parse(JSON.stringify(edit(triggerClaims())))))
  const mutatedTrigger = fc
    .tuple(signerArb, mutation)
    .map(([signer, change]) => {
      const token = signToken(signer, triggerClaims())
      return { token, mutated: mutate(token, change) }
    })
    .filter(({ token, mutated }) => token !== mutated)
    .map(({ mutated }) => mutated)
  const badValue = fc.oneof(
    { weight: 2, arbitrary: tokenShapedString },
    { weight: 2, arbitrary: forgedStructure },
    { weight: 4, arbitrary: signedButBad },
    { weight: 2, arbitrary: mutatedTrigger },
  )
  const headerValue = fc.oneof(badValue, fc.array(badValue, { maxLength: 3 }))

  test('a bad header never throws, never holds the request, is hidden from the app, and never starts a capture', () => {
    const trigger = new HeaderTrigger(controller)
    let delivered = 0
    fc.assert(
      fc.property(
        headerValue,
        fc.boolean(),
        fc.constantFrom('X-Trigger-Profile', 'x-trigger-profile'),
        (value, headersSent, spelling) => {
          const set = new Map<string, string>()
          const rawHeaders = [
            'Host',
            'shop.example',
            ...[value].flat().flatMap((one) => [spelling, one]),
            'Accept',
            '*/*',
          ]
          const req = {
            method: 'GET',
            headers: { host: 'shop.example', 'x-trigger-profile': value, accept: '*/*' },
            rawHeaders,
          }
          const res = {
            headersSent,
            setHeader(name: string, headerValue: string) {
              // what Node does once the head is out
              if (headersSent)
                throw Object.assign(new Error('headers sent'), { code: 'ERR_HTTP_HEADERS_SENT' })
              set.set(name.toLowerCase(), headerValue)
            },
          }
          const pending = trigger.beforeRequest(
            req as unknown as IncomingMessage,
            res as unknown as ServerResponse,
            () => '/checkout',
            undefined,
          )
          delivered++
          assert.equal(pending, undefined, 'a refused token never holds the request')
          assert.deepEqual(Object.fromEntries(set), headersSent ? {} : { 'x-profile-status': 'rejected' })
          assert.deepEqual(req.headers, { host: 'shop.example', accept: '*/*' })
          assert.deepEqual(rawHeaders, ['Host', 'shop.example', 'Accept', '*/*'])
          assert.equal(controller.current(), undefined)
          assert.equal(controller.status().current, undefined)
          const status = trigger.status()
          assert.deepEqual([status.accepted, status.busy, status.rateLimited, status.failed], [0, 0, 0, {}])
          const rejected = Object.values(status.rejected).reduce((sum, count) => sum + count, 0)
          assert.equal(rejected, delivered, JSON.stringify(status.rejected))
        },
      ),
      { numRuns: 400 },
    )
    // the generators must reach past the signature to the claims, not only the shape check
    const reasons = Object.keys(trigger.status().rejected)
    for (const reason of ['malformed', 'bad-signature']) {
      assert.ok(reasons.includes(reason), `no header was refused as ${reason}: ${reasons.join(', ')}`)
    }
    const shapeAndSignature = [
      'too-long',
      'malformed',
      'unknown-kid',
      'algorithm-not-allowed',
      'bad-signature',
    ]
    const afterSignature = reasons.filter((reason) => !shapeAndSignature.includes(reason))
    assert.ok(afterSignature.length >= 5, `few refusals for the claims: ${reasons.join(', ')}`)
  })
})
