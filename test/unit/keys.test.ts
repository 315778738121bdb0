/**
 * Key loading and key signing, judged by the real cosign 3.1 and 2.5 binaries in both directions:
 * keys cosign writes must load here, keys written here must load in cosign, and signatures made
 * here must pass `cosign verify-blob --key`. Everything runs offline (no tlog, no TUF).
 */
import { createHash, generateKeyPairSync, verify, type KeyObject } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleToJSON } from '@sigstore/bundle'
import { MessageSignatureBundleBuilder } from '@sigstore/sign'
import { isSignetError, type SignetError } from '../../src/errors'
import { keyDSSEBundleBuilder, KeySigner } from '../../src/sigstore/key-signer'
import {
  encryptCosignKey,
  loadPublicKey,
  loadSigningKey,
  type CosignPemType,
} from '../../src/sigstore/keys'
import { runTool } from '../infra/tools'

type Cosign = 'cosign3' | 'cosign2'
const COSIGNS: Cosign[] = ['cosign3', 'cosign2']
const PASSWORD = 'correct horse battery staple'

// A self-signed P-256 certificate: the PEM a user might paste into `key` by mistake.
const CERTIFICATE_PEM = `-----BEGIN CERTIFICATE-----
MIIBgTCCASegAwIBAgIUF0JtmdJnXwZDUBHpTLTa7S0RvwEwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLc2lnbmV0LXRlc3QwHhcNMjYxMTIxMjM1OTMzWhcNMzYxMTE4
MjM1OTMzWjAWMRQwEgYDVQQDDAtzaWduZXQtdGVzdDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABBaYqMBDylyn6TaIeNgfPwRQt6Z0HQFVnIYo0uOjdd5aNhSuaD2x
DKSAGhXM0HFv+fDqIu1Djpwmfv/C9lPobYKjUzBRMB0GA1UdDgQWBBSd2uaN1mWo
ul5MxzVeMQwq0+mBCzAfBgNVHSMEGDAWgBSd2uaN1mWoul5MxzVeMQwq0+mBCzAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQD3vNMu0sFVVc2mWnjA
G2Ae9lt5CJITofu9txiB8KAM/gIgF6i8EEb+Z+os043UqSvETmnhIwuDGr0bOZFL
6gh8U6M=
-----END CERTIFICATE-----
`

let root: string
let counter = 0
/** A fresh directory per cosign run: generate-key-pair refuses to overwrite cosign.key. */
function freshDir(): string {
  const dir = join(root, `d${counter++}`)
  mkdirSync(dir)
  return dir
}

interface KeyPairFiles {
  key: string
  pub: string
}

function generateWithCosign(tool: Cosign, password: string): KeyPairFiles {
  const dir = freshDir()
  runTool(tool, ['generate-key-pair'], { cwd: dir, env: { COSIGN_PASSWORD: password } })
  return { key: join(dir, 'cosign.key'), pub: join(dir, 'cosign.pub') }
}

/** `cosign sign-blob --key` offline, legacy base64 signature output. */
function cosignSignBlob(tool: Cosign, keyPath: string, password: string, blob: string): Buffer {
  const out = join(freshDir(), 'sig.b64')
  // cosign 3 defaults to the bundle format and to a TUF-fetched signing config; both switches are
  // needed to sign by key without network.
  const v3 = tool === 'cosign3' ? ['--new-bundle-format=false', '--use-signing-config=false'] : []
  runTool(
    tool,
    [
      'sign-blob',
      '--yes',
      '--key',
      keyPath,
      '--tlog-upload=false',
      ...v3,
      '--output-signature',
      out,
      blob,
    ],
    { env: { COSIGN_PASSWORD: password } },
  )
  return Buffer.from(readFileSync(out, 'utf8').trim(), 'base64')
}

/** `cosign verify-blob --key` of a legacy base64 signature; returns whether cosign accepted it. */
function cosignVerifyBlob(tool: Cosign, pubPath: string, signature: Buffer, blob: string): boolean {
  const sigPath = join(freshDir(), 'sig.b64')
  writeFileSync(sigPath, signature.toString('base64'))
  try {
    // cosign prints "Verified OK" on stderr; its exit status is the verdict.
    runTool(tool, [
      'verify-blob',
      '--key',
      pubPath,
      '--signature',
      sigPath,
      '--insecure-ignore-tlog=true',
      blob,
    ])
    return true
  } catch (err) {
    if (/invalid signature|failed to verify/i.test(String(err))) return false
    throw err
  }
}

function writeFile(name: string, content: string | Buffer): string {
  const path = join(freshDir(), name)
  writeFileSync(path, content)
  return path
}

/** Runs `fn`, expecting a SignetError, and returns it. */
function signetError(fn: () => unknown): SignetError {
  try {
    fn()
  } catch (err) {
    if (isSignetError(err)) return err
    throw err
  }
  throw new Error('expected a SignetError, but nothing was thrown')
}

/** Asserts a message leaks neither the password nor any line of the key's PEM body. */
function expectNoSecrets(message: string, keyPem: string, password: string): void {
  if (password) expect(message).not.toContain(password)
  for (const line of keyPem.split('\n')) {
    if (line && !line.startsWith('-----')) expect(message).not.toContain(line)
  }
}

function spkiPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString()
}

let blob: string
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'signet-keys-'))
  blob = writeFile('blob.txt', 'signet key test blob\n')
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe.each(COSIGNS)('keys written by %s generate-key-pair', (tool) => {
  let pair: KeyPairFiles
  let keyPem: string
  beforeAll(() => {
    pair = generateWithCosign(tool, PASSWORD)
    keyPem = readFileSync(pair.key, 'utf8')
  })

  it('loads with the right password, from a path and from PEM text', () => {
    expect(keyPem).toContain('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----')
    for (const input of [pair.key, keyPem]) {
      const key = loadSigningKey(input, PASSWORD)
      expect(key.algorithm).toBe('ecdsa-p256-sha256')
      // Byte-for-byte what cosign wrote as cosign.pub.
      expect(key.publicKeyPem).toBe(readFileSync(pair.pub, 'utf8'))
    }
  })

  it('refuses a wrong password with KEY_PASSWORD_WRONG, without echoing it', () => {
    const wrong = 'not-the-password-42'
    const err = signetError(() => loadSigningKey(pair.key, wrong))
    expect(err.code).toBe('KEY_PASSWORD_WRONG')
    expect(err.input).toBe('key-password')
    expectNoSecrets(err.message, keyPem, wrong)
    expectNoSecrets(err.message, keyPem, PASSWORD)
  })

  it('asks for key-password when none is given and the empty one does not open the key', () => {
    for (const password of [undefined, '']) {
      const err = signetError(() => loadSigningKey(keyPem, password))
      expect(err.code).toBe('KEY_PASSWORD_WRONG')
      expect(err.input).toBe('key-password')
      expect(err.message).toMatch(/set key-password/)
    }
  })

  it('loads a key generated with an empty password when no password is given', () => {
    const empty = generateWithCosign(tool, '')
    for (const password of [undefined, '']) {
      const key = loadSigningKey(empty.key, password)
      expect(key.publicKeyPem).toBe(readFileSync(empty.pub, 'utf8'))
    }
  })

  it.each(COSIGNS)('signs blobs that %s verify-blob --key accepts', (verifier) => {
    const key = loadSigningKey(pair.key, PASSWORD)
    const signature = key.sign(readFileSync(blob))
    expect(cosignVerifyBlob(verifier, pair.pub, signature, blob)).toBe(true)
    // Negative control: the verifier really checks, so the pass above means something.
    const other = writeFile('other.txt', 'a different blob\n')
    expect(cosignVerifyBlob(verifier, pair.pub, signature, other)).toBe(false)
  })

  it('verifies what cosign sign-blob signed with the same key (same semantics)', () => {
    const signature = cosignSignBlob(tool, pair.key, PASSWORD, blob)
    const key = loadSigningKey(pair.key, PASSWORD)
    expect(verify('sha256', readFileSync(blob), key.publicKey, signature)).toBe(true)
  })
})

describe('keys written by encryptCosignKey', () => {
  const pemTypes: CosignPemType[] = [
    'ENCRYPTED SIGSTORE PRIVATE KEY',
    'ENCRYPTED COSIGN PRIVATE KEY',
  ]
  const cases = COSIGNS.flatMap((tool) =>
    pemTypes.flatMap((pemType) => [32768, 65536, 131072].map((N) => ({ tool, pemType, N }))),
  )

  it.each(cases)('$tool sign-blob --key reads $pemType with N=$N', ({ tool, pemType, N }) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const pem = encryptCosignKey(privateKey, PASSWORD, { pemType, N })
    expect(pem.startsWith(`-----BEGIN ${pemType}-----\n`)).toBe(true)
    const doc = JSON.parse(Buffer.from(pem.split('\n').slice(1, -2).join(''), 'base64').toString())
    expect(doc.kdf.params).toEqual({ N, r: 8, p: 1 })
    expect(Buffer.from(doc.kdf.salt, 'base64')).toHaveLength(32)
    expect(Buffer.from(doc.cipher.nonce, 'base64')).toHaveLength(24)

    const keyPath = writeFile('cosign.key', pem)
    const signature = cosignSignBlob(tool, keyPath, PASSWORD, blob)
    expect(verify('sha256', readFileSync(blob), publicKey, signature)).toBe(true)
    // And it round-trips through our own loader.
    expect(loadSigningKey(pem, PASSWORD).publicKeyPem).toBe(spkiPem(publicKey))
  })

  it('defaults to ENCRYPTED SIGSTORE PRIVATE KEY with N=32768', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const pem = encryptCosignKey(privateKey, PASSWORD)
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/)
    const doc = JSON.parse(Buffer.from(pem.split('\n').slice(1, -2).join(''), 'base64').toString())
    expect(doc.kdf.params.N).toBe(32768)
    expect(() => encryptCosignKey(privateKey, PASSWORD, { N: 1024 })).toThrow(RangeError)
  })

  it.each(COSIGNS)('%s reads a key encrypted with the empty password', (tool) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const keyPath = writeFile('cosign.key', encryptCosignKey(privateKey, ''))
    const signature = cosignSignBlob(tool, keyPath, '', blob)
    expect(verify('sha256', readFileSync(blob), publicKey, signature)).toBe(true)
    expect(loadSigningKey(keyPath, undefined).publicKeyPem).toBe(spkiPem(publicKey))
  })
})

describe('other key types', () => {
  const types = [
    {
      name: 'P-384',
      algorithm: 'ecdsa-p384-sha256',
      make: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    },
    {
      name: 'P-521',
      algorithm: 'ecdsa-p521-sha256',
      make: () => generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    },
    {
      name: 'RSA-2048',
      algorithm: 'rsa-pkcs1v15-sha256',
      make: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
    },
    {
      name: 'RSA-3072',
      algorithm: 'rsa-pkcs1v15-sha256',
      make: () => generateKeyPairSync('rsa', { modulusLength: 3072 }),
    },
  ]

  // SHA-256 for P-384/P-521 is what both cosign verifiers accept: cosign 3.1 verify-blob rejects the
  // SHA-384/512 signatures its own sign-blob makes for those curves (see keys.ts).
  it.each(types)('$name signatures verify with cosign3 and cosign2', ({ algorithm, make }) => {
    const { privateKey, publicKey } = make()
    const keyPath = writeFile('cosign.key', encryptCosignKey(privateKey, PASSWORD))
    const pubPath = writeFile('cosign.pub', spkiPem(publicKey))
    const key = loadSigningKey(keyPath, PASSWORD)
    expect(key.algorithm).toBe(algorithm)
    const signature = key.sign(readFileSync(blob))
    for (const tool of COSIGNS) expect(cosignVerifyBlob(tool, pubPath, signature, blob)).toBe(true)
    // cosign 2.5 signs every curve with SHA-256: its signature verifies under our semantics.
    const theirs = cosignSignBlob('cosign2', keyPath, PASSWORD, blob)
    expect(verify('sha256', readFileSync(blob), publicKey, theirs)).toBe(true)
  })

  it('refuses Ed25519 with a message that says why', () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const err = signetError(() => loadSigningKey(encryptCosignKey(privateKey, PASSWORD), PASSWORD))
    expect(err.code).toBe('KEY_INVALID')
    expect(err.input).toBe('key')
    expect(err.message).toMatch(/Ed25519.*Ed25519ph/)
  })

  it('refuses secp256k1 and odd RSA sizes', () => {
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey
    expect(signetError(() => loadSigningKey(encryptCosignKey(k1, ''), '')).code).toBe('KEY_INVALID')
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey
    const pem = rsa1024.export({ type: 'pkcs8', format: 'pem' }).toString()
    expect(signetError(() => loadSigningKey(pem, undefined)).message).toMatch(/RSA key size 1024/)
  })
})

describe('unencrypted and OpenSSL formats', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

  it('loads a PKCS#8 PRIVATE KEY from text and from a file, and signs for cosign', () => {
    const key = loadSigningKey(pkcs8, undefined)
    expect(key.publicKeyPem).toBe(spkiPem(publicKey))
    expect(loadSigningKey(writeFile('key.pem', pkcs8), undefined).hint).toBe(key.hint)
    const pubPath = writeFile('cosign.pub', key.publicKeyPem)
    expect(cosignVerifyBlob('cosign3', pubPath, key.sign(readFileSync(blob)), blob)).toBe(true)
  })

  it('loads SEC1 EC PRIVATE KEY and PKCS#1 RSA PRIVATE KEY', () => {
    const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString()
    expect(sec1).toContain('EC PRIVATE KEY')
    expect(loadSigningKey(sec1, undefined).publicKeyPem).toBe(spkiPem(publicKey))
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pkcs1 = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    expect(loadSigningKey(pkcs1, undefined).publicKeyPem).toBe(spkiPem(rsa.publicKey))
  })

  it('loads an encrypted PKCS#8 key with key-password and refuses a wrong one', () => {
    const encrypted = privateKey
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD })
      .toString()
    expect(loadSigningKey(encrypted, PASSWORD).publicKeyPem).toBe(spkiPem(publicKey))
    const err = signetError(() => loadSigningKey(encrypted, 'wrong'))
    expect(err.code).toBe('KEY_PASSWORD_WRONG')
    expect(err.input).toBe('key-password')
    expect(signetError(() => loadSigningKey(encrypted, undefined)).code).toBe('KEY_PASSWORD_WRONG')
  })

  it('accepts a base64-encoded PEM and a PEM with literal \\n escapes (common secret mishaps)', () => {
    const b64 = Buffer.from(pkcs8).toString('base64')
    expect(loadSigningKey(b64, undefined).publicKeyPem).toBe(spkiPem(publicKey))
    const escaped = pkcs8.trim().replace(/\n/g, '\\n')
    expect(loadSigningKey(escaped, undefined).publicKeyPem).toBe(spkiPem(publicKey))
  })
})

describe('invalid key input', () => {
  function expectKeyInvalid(input: string, pattern?: RegExp): SignetError {
    const err = signetError(() => loadSigningKey(input, PASSWORD))
    expect(err.code).toBe('KEY_INVALID')
    expect(err.input).toBe('key')
    // Every KEY_INVALID says what is accepted.
    expect(err.message).toMatch(/cosign generate-key-pair/)
    expect(err.message).toMatch(/PKCS#8/)
    expect(err.message).not.toContain(PASSWORD)
    if (pattern) expect(err.message).toMatch(pattern)
    return err
  }

  it('refuses a garbage string without quoting it', () => {
    const garbage = 'this is not a key at all, just some secret-looking text'
    expect(expectKeyInvalid(garbage).message).not.toContain(garbage)
    expect(expectKeyInvalid('   ').message).toMatch(/empty/)
  })

  it('refuses a certificate and a public key, naming what was found', () => {
    expectKeyInvalid(CERTIFICATE_PEM, /CERTIFICATE.*private key/)
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expectKeyInvalid(spkiPem(publicKey), /PUBLIC KEY.*private key/)
  })

  it('refuses an unknown PEM type', () => {
    const pem =
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'
    const err = expectKeyInvalid(pem, /unsupported PEM type "OPENSSH PRIVATE KEY"/)
    expectNoSecrets(err.message, pem, PASSWORD)
  })

  it('refuses a missing file without echoing the path', () => {
    const path = join(root, 'no-such-dir', 'cosign.key')
    expect(
      expectKeyInvalid(path, /neither PEM text nor the path of an existing file/).message,
    ).not.toContain(path)
  })

  it('refuses KMS references plainly', () => {
    expectKeyInvalid('awskms:///arn:aws:kms:us-east-1:1:key/abc', /KMS/)
  })

  it('refuses a cosign key whose scrypt parameters were tampered with', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const pem = encryptCosignKey(privateKey, PASSWORD)
    const lines = pem.trim().split('\n')
    const doc = JSON.parse(Buffer.from(lines.slice(1, -1).join(''), 'base64').toString())
    doc.kdf.params.N = 1 << 20
    const tampered = `${lines[0]}\n${Buffer.from(JSON.stringify(doc)).toString('base64')}\n${lines.at(-1)}\n`
    expectKeyInvalid(tampered, /scrypt parameters/)
    const notJson = `${lines[0]}\n${Buffer.from('{"kdf":').toString('base64')}\n${lines.at(-1)}\n`
    expectKeyInvalid(notJson, /JSON/)
  })
})

describe('loadPublicKey', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })

  it('loads a cosign.pub from a path and from text', () => {
    const pair = generateWithCosign('cosign3', PASSWORD)
    const fromPath = loadPublicKey(pair.pub)
    const fromText = loadPublicKey(readFileSync(pair.pub, 'utf8'))
    expect(fromPath.equals(fromText)).toBe(true)
    expect(spkiPem(fromPath)).toBe(loadSigningKey(pair.key, PASSWORD).publicKeyPem)
    expect(loadPublicKey(spkiPem(publicKey)).equals(publicKey)).toBe(true)
  })

  it('names the input in KEY_INVALID errors', () => {
    for (const [input, pattern] of [
      ['garbage', /neither PEM text nor the path/],
      [CERTIFICATE_PEM, /"CERTIFICATE" block where a "PUBLIC KEY" is expected/],
      [privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), /"PRIVATE KEY" block/],
    ] as const) {
      const err = signetError(() => loadPublicKey(input))
      expect(err.code).toBe('KEY_INVALID')
      expect(err.input).toBe('public-key')
      expect(err.message).toMatch(/^public-key: /)
      expect(err.message).toMatch(pattern)
    }
    const named = signetError(() => loadPublicKey('garbage', 'verify-key'))
    expect(named.input).toBe('verify-key')
    expect(named.message).toMatch(/^verify-key: /)
  })
})

describe('KeySigner', () => {
  let pair: KeyPairFiles
  beforeAll(() => {
    pair = generateWithCosign('cosign3', PASSWORD)
  })

  it('returns the public key, its hint b64(sha256(SPKI DER)), and a verifiable signature', async () => {
    const key = loadSigningKey(pair.key, PASSWORD)
    const data = Buffer.from('payload to sign')
    const { signature, key: material } = await new KeySigner(key).sign(data)
    if (material.$case !== 'publicKey') throw new Error('expected public key material')
    const spkiDer = key.publicKey.export({ type: 'spki', format: 'der' })
    expect(material.hint).toBe(createHash('sha256').update(spkiDer).digest('base64'))
    expect(material.publicKey).toBe(readFileSync(pair.pub, 'utf8'))
    expect(verify('sha256', data, loadPublicKey(pair.pub), signature)).toBe(true)
  })

  it('uses the same hint cosign 3 writes into a key-signed bundle', () => {
    const bundlePath = join(freshDir(), 'cosign.bundle')
    runTool(
      'cosign3',
      [
        'sign-blob',
        '--yes',
        '--key',
        pair.key,
        '--tlog-upload=false',
        '--use-signing-config=false',
        '--bundle',
        bundlePath,
        blob,
      ],
      { env: { COSIGN_PASSWORD: PASSWORD } },
    )
    const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'))
    expect(bundle.verificationMaterial.publicKey.hint).toBe(loadSigningKey(pair.key, PASSWORD).hint)
  })

  it('builds message-signature bundles that cosign3 verify-blob --key accepts', async () => {
    const signer = new KeySigner(loadSigningKey(pair.key, PASSWORD))
    const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({
      data: readFileSync(blob),
    })
    expect(bundle.verificationMaterial.content).toEqual({
      $case: 'publicKey',
      publicKey: { hint: signer.key.hint },
    })
    const bundlePath = writeFile('message.sigstore.json', JSON.stringify(bundleToJSON(bundle)))
    const verifyArgs = (artifact: string): string[] => [
      'verify-blob',
      '--key',
      pair.pub,
      '--bundle',
      bundlePath,
      '--insecure-ignore-tlog=true',
      artifact,
    ]
    // runTool throws on a non-zero exit: cosign accepting the bundle is the assertion.
    runTool('cosign3', verifyArgs(blob))
    const other = writeFile('other.txt', 'a different blob\n')
    expect(() => runTool('cosign3', verifyArgs(other))).toThrow(/verify|digest|mismatch/i)
  })

  it('builds DSSE bundles (keyDSSEBundleBuilder) that cosign3 verify-blob-attestation accepts', async () => {
    const signer = new KeySigner(loadSigningKey(pair.key, PASSWORD))
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [
        {
          name: 'blob.txt',
          digest: { sha256: createHash('sha256').update(readFileSync(blob)).digest('hex') },
        },
      ],
      predicateType: 'https://example.com/signet-test/v1',
      predicate: {},
    }
    const bundle = await new (keyDSSEBundleBuilder())({ signer, witnesses: [] }).create({
      data: Buffer.from(JSON.stringify(statement)),
      type: 'application/vnd.in-toto+json',
    })
    // cosign 3 rejects an envelope signature whose keyid is sigstore-js's hint; the hint stays in
    // the verification material, where cosign 3 puts it too.
    expect(bundle.content.dsseEnvelope.signatures.map((sig) => sig.keyid)).toEqual([''])
    expect(bundle.verificationMaterial.content).toEqual({
      $case: 'publicKey',
      publicKey: { hint: signer.key.hint },
    })
    const bundlePath = writeFile('dsse.sigstore.json', JSON.stringify(bundleToJSON(bundle)))
    runTool('cosign3', [
      'verify-blob-attestation',
      '--key',
      pair.pub,
      '--bundle',
      bundlePath,
      '--type',
      'https://example.com/signet-test/v1',
      '--insecure-ignore-tlog=true',
      blob,
    ])
  })
})
