/**
 * The pure parts of the S3 sink: the key layout, prefix rules, backoff, and how store failures are coded.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes } from '../src/errors.js'
import { backoffDelayMs } from '../src/sinks/s3/backoff.js'
import {
  captureKeys,
  idOfBodyKey,
  idOfMetaKey,
  normalizePrefix,
  parseCaptureKey,
  serviceSegment,
} from '../src/sinks/s3/keys.js'
import { toS3SinkError } from '../src/sinks/s3/s3-errors.js'

const ID = '20261121T223301Z-heap-3f9a1c0e'

describe('S3 key layout', () => {
  test('keys are prefix/service/yyyy/mm/dd/<id>.<ext> and <id>.json, and read back', () => {
    const keys = captureKeys('tripwire/', 'checkout', ID)
    assert.deepEqual(keys, {
      body: 'tripwire/checkout/2026/11/21/20261121T223301Z-heap-3f9a1c0e.heapprofile',
      meta: 'tripwire/checkout/2026/11/21/20261121T223301Z-heap-3f9a1c0e.json',
    })
    assert.equal(idOfMetaKey(keys.meta), ID)
    assert.equal(idOfBodyKey(keys.body), ID)
    assert.equal(idOfBodyKey(keys.body.replace('.heapprofile', '.cpuprofile')), undefined, 'wrong extension')
    assert.deepEqual(parseCaptureKey('tripwire/', keys.meta), { segment: 'checkout', id: ID, part: 'meta' })
    assert.deepEqual(parseCaptureKey('tripwire/', keys.body), { segment: 'checkout', id: ID, part: 'body' })
  })

  test('only keys of the layout are recognised (retention never touches anything else)', () => {
    for (const key of [
      `other/checkout/2026/11/21/${ID}.json`,
      `tripwire/checkout/2026/11/22/${ID}.json`,
      `tripwire/checkout/2026/11/${ID}.json`,
      `tripwire/${ID}.json`,
      `tripwire/checkout/2026/11/21/x/${ID}.json`,
      'tripwire/checkout/2026/11/21/not-a-capture.json',
      `tripwire/checkout/2026/11/21/${ID}.json.bak`,
    ]) {
      assert.equal(parseCaptureKey('tripwire/', key), undefined, key)
    }
  })

  test('service names become safe key segments', () => {
    assert.equal(serviceSegment('checkout-api_v2.1'), 'checkout-api_v2.1')
    assert.equal(serviceSegment('billing/eu west'), 'billing_eu_west')
    assert.equal(serviceSegment('..'), '_')
    assert.equal(serviceSegment('zahlungsdienst-ü'), 'zahlungsdienst-_')
    assert.equal(serviceSegment('x'.repeat(300)).length, 100)
  })

  test('prefixes are normalised, and dangerous ones refused', () => {
    assert.deepEqual(normalizePrefix('tripwire'), { prefix: 'tripwire/' })
    assert.deepEqual(normalizePrefix('/a/b/'), { prefix: 'a/b/' })
    assert.deepEqual(normalizePrefix(''), { prefix: '' })
    assert.deepEqual(normalizePrefix('/'), { prefix: '' })
    for (const bad of ['a//b', 'a/./b', '../a', 'a\\b', 'a\nb'])
      assert.ok('problem' in normalizePrefix(bad), bad)
  })
})

describe('S3 upload backoff', () => {
  test('doubles from baseMs, is capped at maxMs, and jitters within the upper half', () => {
    const policy = { baseMs: 100, maxMs: 1000 }
    assert.equal(
      backoffDelayMs(policy, 1, () => 0),
      50,
    )
    assert.equal(
      backoffDelayMs(policy, 1, () => 1),
      100,
    )
    assert.equal(
      backoffDelayMs(policy, 3, () => 1),
      400,
    )
    assert.equal(
      backoffDelayMs(policy, 4, () => 1),
      800,
    )
    assert.equal(
      backoffDelayMs(policy, 5, () => 1),
      1000,
    )
    assert.equal(
      backoffDelayMs(policy, 5000, () => 0.5),
      750,
      'no overflow after many failures',
    )
    for (let failures = 1; failures < 50; failures++) {
      const delay = backoffDelayMs(policy, failures)
      assert.ok(delay >= 50 && delay <= 1000, `${failures}: ${delay}`)
    }
  })
})

describe('S3 failures as coded errors', () => {
  const serviceError = (name: string, status: number) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } })

  test('say whether to fix credentials, the bucket, or wait for the store', () => {
    const cases: [unknown, 'bucket' | 'object', string, RegExp][] = [
      [
        serviceError('InvalidAccessKeyId', 403),
        'object',
        ErrorCodes.SINK_PERMISSION,
        /rejected the credentials/,
      ],
      [serviceError('SignatureDoesNotMatch', 403), 'object', ErrorCodes.SINK_PERMISSION, /secret/],
      [serviceError('AccessDenied', 403), 'object', ErrorCodes.SINK_PERMISSION, /IAM policy/],
      [serviceError('Unknown', 403), 'bucket', ErrorCodes.SINK_PERMISSION, /denied/],
      [
        Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        }),
        'bucket',
        ErrorCodes.SINK_PERMISSION,
        /No AWS credentials were found/,
      ],
      [serviceError('NoSuchBucket', 404), 'object', ErrorCodes.SINK_UNAVAILABLE, /does not exist/],
      [serviceError('NotFound', 404), 'bucket', ErrorCodes.SINK_UNAVAILABLE, /does not exist/],
      [serviceError('PermanentRedirect', 301), 'bucket', ErrorCodes.SINK_UNAVAILABLE, /another region/],
      [serviceError('SlowDown', 503), 'object', ErrorCodes.SINK_UNAVAILABLE, /unreachable or failing/],
      [
        Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        'bucket',
        ErrorCodes.SINK_UNAVAILABLE,
        /clientConfig.endpoint/,
      ],
      [new Error('Region is missing'), 'bucket', ErrorCodes.INVALID_OPTIONS, /clientConfig.region/],
      [serviceError('InvalidArgument', 400), 'object', ErrorCodes.SINK_IO, /retried/],
    ]
    for (const [error, target, code, message] of cases) {
      const coded = toS3SinkError(error, 'do it', 'my-bucket', target)
      assert.equal(coded.code, code, String(error))
      assert.match(coded.message, /^S3Sink could not do it \(/)
      assert.match(coded.message, message)
      assert.equal(coded.cause, error)
    }
  })
})
