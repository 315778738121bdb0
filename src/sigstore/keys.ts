/**
 * Signing keys for key-based (not keyless) signing: cosign's encrypted key files, plain PKCS#8 /
 * SEC1 PEM, and public keys for verification.
 *
 * cosign's `cosign.key` (formats.md F.1) is PEM whose body is a JSON document: scrypt derives a
 * 32-byte key from the password and NaCl secretbox (XSalsa20-Poly1305) seals a PKCS#8 DER private
 * key. Node has scrypt but not XSalsa20, so the box comes from tweetnacl, whose output layout
 * (16-byte Poly1305 tag, then ciphertext) is exactly Go's `secretbox.Seal`.
 *
 * Every signature hashes with SHA-256: ECDSA (P-256, P-384, P-521) as ASN.1 DER, RSA
 * (2048/3072/4096) as PKCS#1 v1.5. For P-384/P-521 that is deliberate, checked against the real
 * binaries: cosign 2.5 signs them with SHA-256, and cosign 3.1's `verify-blob --key` (legacy
 * signature and bundle alike) verifies them only with SHA-256 - it rejects the SHA-384/512
 * signatures its own `sign-blob` makes. SHA-256 is also what sigstore-js verifies with (node's
 * default for EC keys) and the digest a hashedrekord entry carries.
 *
 * Ed25519 is refused. Current cosign's key loader defaults Ed25519 keys to Ed25519ph (a
 * hashedrekord entry can only carry a prehash), while other paths - cosign 2.5 and 3.1 offline
 * `sign-blob`/`verify-blob`, checked - use pure Ed25519; Node's crypto produces only pure Ed25519.
 * A signature that verifies in one cosign code path and not in another is worse than a clear error
 * up front.
 *
 * Messages never quote the `key` input or the password: either could be a secret pasted into the
 * wrong input.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  scrypt,
  scryptSync,
  sign as cryptoSign,
  constants,
  type KeyObject,
  type ScryptOptions,
} from 'node:crypto'
import { readFileSync } from 'node:fs'
import nacl from 'tweetnacl'
import { SignetError } from '../errors'

export type SigningAlgorithm =
  'ecdsa-p256-sha256' | 'ecdsa-p384-sha256' | 'ecdsa-p521-sha256' | 'rsa-pkcs1v15-sha256'

export type CosignPemType = 'ENCRYPTED SIGSTORE PRIVATE KEY' | 'ENCRYPTED COSIGN PRIVATE KEY'

export interface SigningKey {
  privateKey: KeyObject
  publicKey: KeyObject
  /** SPKI PEM, byte-for-byte what `cosign generate-key-pair` writes to cosign.pub. */
  publicKeyPem: string
  /** b64(sha256(SPKI DER)): what cosign 3 and sigstore-go write as bundle `publicKey.hint`. */
  hint: string
  algorithm: SigningAlgorithm
  /** Signs `data` (not a digest; it is hashed with SHA-256) the way cosign verifies. */
  sign(data: Buffer): Buffer
}

const COSIGN_PEM_TYPES: readonly string[] = [
  'ENCRYPTED SIGSTORE PRIVATE KEY',
  'ENCRYPTED COSIGN PRIVATE KEY',
]

/**
 * The scrypt parameter sets go-securesystemslib accepts on decrypt. Anything else is refused so a
 * tampered file cannot make us burn gigabytes of memory.
 */
const SCRYPT_N_ACCEPTED = [32768, 65536, 131072]
const SCRYPT_R = 8
const SCRYPT_P = 1
/** cosign < 2.2 and containers/image < 5.28 accept only N=32768, so it is what we write. */
const SCRYPT_N_DEFAULT = 32768

const ACCEPTED_FORMATS =
  'use the cosign.key written by `cosign generate-key-pair` (PEM "ENCRYPTED SIGSTORE PRIVATE KEY" ' +
  'or "ENCRYPTED COSIGN PRIVATE KEY"), or an unencrypted PKCS#8 "PRIVATE KEY" / "EC PRIVATE KEY" ' +
  'PEM, given as PEM text or as a path to a file'

function keyInvalid(message: string, cause?: unknown): SignetError {
  return new SignetError('KEY_INVALID', `key: ${message}; ${ACCEPTED_FORMATS}`, {
    input: 'key',
    cause,
  })
}

interface PemBlock {
  type: string
  /** Lines before the base64 body, e.g. `Proc-Type: 4,ENCRYPTED` of OpenSSL-encrypted PEM. */
  hasHeaders: boolean
  der: Buffer
  /** The whole block as text, for handing to node:crypto. */
  text: string
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/

/** The first PEM block in `input`, or undefined if there is none or its body is not base64. */
function firstPemBlock(input: string): PemBlock | undefined {
  const match = PEM_BLOCK.exec(input)
  if (!match) return undefined
  const [whole, type, body] = match
  const text = whole + '\n'
  // Headers only occur in OpenSSL's legacy encrypted PEM, which node:crypto parses from the text.
  if (/^[A-Za-z-]+:/m.test(body)) return { type, hasHeaders: true, der: Buffer.alloc(0), text }
  const b64 = body.replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined
  return { type, hasHeaders: false, der: Buffer.from(b64, 'base64'), text }
}

/** Reads a key file by its path as written. */
type KeyFileReader = (path: string) => string

/**
 * Resolves a `key`/`public-key` input to text: PEM as given, else a file path (read by
 * `readFile`, default relative to the process's working directory), else base64 of a PEM (some
 * users store `base64 cosign.key` as the secret). Throws `fail(...)` when it is none of these or
 * names an unreadable file; a SignetError of `readFile` (a file absent at a git commit, say) is
 * passed on when the input is not base64 either.
 */
function resolveInput(
  input: string,
  inputName: string,
  fail: (message: string, cause?: unknown) => SignetError,
  readFile: KeyFileReader = (path) => readFileSync(path, 'utf8'),
): string {
  // A PEM pasted into a single-line field sometimes arrives with literal `\n` escapes.
  const normalise = (s: string): string =>
    s.includes('-----BEGIN') && !s.includes('\n') ? s.replace(/\\n/g, '\n') : s
  const trimmed = input.trim()
  if (trimmed === '') throw fail(`${inputName} is empty`)
  if (trimmed.includes('-----BEGIN')) return normalise(trimmed)
  if (/^[a-z0-9]+:\/\//i.test(trimmed)) {
    // cosign accepts KMS and Kubernetes references here; say plainly that we do not.
    throw fail(`${inputName} looks like a KMS or Kubernetes key reference, which is not supported`)
  }
  let unread: SignetError | undefined
  if (!/[\r\n]/.test(trimmed) && trimmed.length < 4096) {
    try {
      return normalise(readFile(trimmed))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (err instanceof SignetError) unread = err
      else if (code !== 'ENOENT' && code !== 'ENAMETOOLONG') {
        throw fail(`${inputName} names a file that cannot be read (${code ?? 'error'})`, err)
      }
    }
  }
  const compact = trimmed.replace(/\s+/g, '')
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    const decoded = Buffer.from(compact, 'base64').toString('utf8')
    if (decoded.includes('-----BEGIN')) return normalise(decoded)
  }
  if (unread) throw unread
  // Not quoting the input: it may be a secret in the wrong field.
  throw fail(`${inputName} is neither PEM text nor the path of an existing file`)
}

interface EncryptedKeyJson {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string }
  cipher: { name: string; nonce: string }
  ciphertext: string
}

function strictBase64(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return undefined
  return Buffer.from(value, 'base64')
}

/** scrypt's options as go-securesystemslib calls it (dkLen 32). */
function scryptOptions(N: number): ScryptOptions {
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is exactly N=32768 and too small
  // for the N=65536 that current cosign writes.
  return { N, r: SCRYPT_R, p: SCRYPT_P, maxmem: 256 * N * SCRYPT_R + 1024 * 1024 }
}

/** cosign's envelope, checked, with what opening it takes. */
interface SealedCosignKey {
  /** cosign reads an empty COSIGN_PASSWORD as a real (empty) password. */
  password: Buffer
  salt: Buffer
  N: number
  nonce: Buffer
  ciphertext: Buffer
}

/** Reads cosign's JSON envelope: what scrypt and the secretbox need to open it. */
function readCosignEnvelope(body: Buffer, password: string | undefined): SealedCosignKey {
  let doc: EncryptedKeyJson
  try {
    doc = JSON.parse(body.toString('utf8')) as EncryptedKeyJson
  } catch (err) {
    throw keyInvalid('the encrypted key body is not the JSON document cosign writes', err)
  }
  const params = doc?.kdf?.params
  if (doc?.kdf?.name !== 'scrypt' || doc?.cipher?.name !== 'nacl/secretbox') {
    throw keyInvalid('the encrypted key does not use scrypt and nacl/secretbox')
  }
  if (!SCRYPT_N_ACCEPTED.includes(params?.N) || params.r !== SCRYPT_R || params.p !== SCRYPT_P) {
    throw keyInvalid(
      `unsupported scrypt parameters (cosign accepts N=${SCRYPT_N_ACCEPTED.join('/')}, r=8, p=1)`,
    )
  }
  const salt = strictBase64(doc.kdf.salt)
  const nonce = strictBase64(doc.cipher.nonce)
  const ciphertext = strictBase64(doc.ciphertext)
  if (!salt || !nonce || nonce.length !== nacl.secretbox.nonceLength || !ciphertext) {
    throw keyInvalid('the encrypted key has a malformed salt, nonce or ciphertext')
  }
  // An absent key-password is worth one try with '' before asking for it.
  return { password: Buffer.from(password ?? '', 'utf8'), salt, N: params.N, nonce, ciphertext }
}

/** Opens the envelope with the key scrypt derived (then zeroed), returning PKCS#8 DER. */
function openCosignEnvelope(sealed: SealedCosignKey, boxKey: Buffer): Buffer {
  const opened = nacl.secretbox.open(sealed.ciphertext, sealed.nonce, boxKey)
  boxKey.fill(0)
  if (!opened) {
    const message =
      sealed.password.length === 0
        ? 'the key is encrypted with a password: set key-password (the empty password does not open it)'
        : 'key-password does not decrypt the key (wrong password, or the key file is damaged)'
    throw new SignetError('KEY_PASSWORD_WRONG', message, { input: 'key-password' })
  }
  return Buffer.from(opened.buffer, opened.byteOffset, opened.byteLength)
}

function describeKeyType(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown'
  const curve = key.asymmetricKeyDetails?.namedCurve
  return curve ? `${type} (${curve})` : type
}

const CURVES: Record<string, SigningAlgorithm> = {
  prime256v1: 'ecdsa-p256-sha256',
  secp384r1: 'ecdsa-p384-sha256',
  secp521r1: 'ecdsa-p521-sha256',
}

/** Sizes in the Sigstore algorithm registry; cosign 3.1 refuses other RSA moduli (checked). */
const RSA_BITS = [2048, 3072, 4096]

/** Wraps a private key with cosign's signing semantics, or refuses key types cosign would not match. */
export function signingKeyFromPrivateKey(privateKey: KeyObject): SigningKey {
  let algorithm: SigningAlgorithm | undefined
  let sign: (data: Buffer) => Buffer
  const type = privateKey.asymmetricKeyType
  if (type === 'ec') {
    algorithm = CURVES[privateKey.asymmetricKeyDetails?.namedCurve ?? '']
    if (!algorithm) {
      throw keyInvalid(
        `unsupported key type ${describeKeyType(privateKey)}: use P-256, P-384 or P-521`,
      )
    }
    sign = (data) => cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'der' })
  } else if (type === 'rsa') {
    const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0
    if (!RSA_BITS.includes(bits)) {
      throw keyInvalid(`unsupported RSA key size ${bits}: use 2048, 3072 or 4096 bits`)
    }
    algorithm = 'rsa-pkcs1v15-sha256'
    sign = (data) =>
      cryptoSign('sha256', data, { key: privateKey, padding: constants.RSA_PKCS1_PADDING })
  } else if (type === 'ed25519') {
    throw keyInvalid(
      'Ed25519 keys are not supported: cosign signs them with Ed25519ph, which Node.js cannot ' +
        'produce; generate an ECDSA P-256 key with `cosign generate-key-pair`',
    )
  } else {
    throw keyInvalid(`unsupported key type ${describeKeyType(privateKey)}`)
  }

  const publicKey = createPublicKey(privateKey)
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    hint: createHash('sha256').update(spki).digest('base64'),
    algorithm,
    sign,
  }
}

/**
 * Loads the private key of the `key` input. `password` is the `key-password` input; undefined and
 * '' both mean "not given" (an encrypted key is then tried with the empty password, as cosign
 * allows).
 */
export function loadSigningKey(keyInput: string, password: string | undefined): SigningKey {
  const source = readSigningKey(keyInput, password)
  if (!('sealed' in source)) return signingKeyFromPrivateKey(source.privateKey)
  const { sealed } = source
  return cosignSigningKey(
    openCosignEnvelope(
      sealed,
      scryptSync(sealed.password, sealed.salt, 32, scryptOptions(sealed.N)),
    ),
  )
}

/**
 * loadSigningKey with cosign's scrypt (a tenth of a second and more) run off the event loop, so
 * that the run's first requests go out meanwhile (issue 11).
 */
export async function loadSigningKeyInBackground(
  keyInput: string,
  password: string | undefined,
): Promise<SigningKey> {
  const source = readSigningKey(keyInput, password)
  if (!('sealed' in source)) return signingKeyFromPrivateKey(source.privateKey)
  const { sealed } = source
  const boxKey = await new Promise<Buffer>((resolve, reject) =>
    scrypt(sealed.password, sealed.salt, 32, scryptOptions(sealed.N), (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  )
  return cosignSigningKey(openCosignEnvelope(sealed, boxKey))
}

/** The key of cosign's decrypted envelope (PKCS#8 DER, zeroed after). */
function cosignSigningKey(der: Buffer): SigningKey {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } catch (err) {
    throw keyInvalid('the key decrypted but does not hold a PKCS#8 private key', err)
  } finally {
    der.fill(0)
  }
  return signingKeyFromPrivateKey(privateKey)
}

/** The `key` input read: a private key, or cosign's envelope still to open. */
function readSigningKey(
  keyInput: string,
  password: string | undefined,
): { privateKey: KeyObject } | { sealed: SealedCosignKey } {
  const text = resolveInput(keyInput, 'key', keyInvalid)
  const block = firstPemBlock(text)
  if (!block) throw keyInvalid('no PEM block found')

  if (COSIGN_PEM_TYPES.includes(block.type)) {
    return { sealed: readCosignEnvelope(block.der, password) }
  } else if (
    block.type === 'PRIVATE KEY' ||
    block.type === 'EC PRIVATE KEY' ||
    block.type === 'RSA PRIVATE KEY' ||
    block.type === 'ENCRYPTED PRIVATE KEY'
  ) {
    const encrypted = block.type === 'ENCRYPTED PRIVATE KEY' || block.hasHeaders
    try {
      // node:crypto handles PKCS#8, SEC1, PKCS#1 and their OpenSSL-encrypted forms.
      const privateKey = createPrivateKey({
        key: block.text,
        format: 'pem',
        passphrase: encrypted ? (password ?? '') : undefined,
      })
      return { privateKey }
    } catch (err) {
      if (encrypted) {
        throw new SignetError(
          'KEY_PASSWORD_WRONG',
          password
            ? 'key-password does not decrypt the key'
            : 'the key is encrypted with a password: set key-password',
          { input: 'key-password', cause: err },
        )
      }
      throw keyInvalid(`the ${block.type} PEM block cannot be parsed`, err)
    }
  } else if (block.type === 'PUBLIC KEY' || block.type === 'CERTIFICATE') {
    throw keyInvalid(`found a ${block.type}, but signing needs the private key`)
  } else {
    // PEM type labels are not secret, and naming it tells the user what they gave us.
    throw keyInvalid(`unsupported PEM type "${block.type}"`)
  }
}

/**
 * Loads a `PUBLIC KEY` PEM (cosign.pub) given as text or a file path. `inputName` is the action
 * input the value came from, so the error points at it. `readFile` reads a path (default: relative
 * to the process's working directory), e.g. at a git commit.
 */
export function loadPublicKey(
  input: string,
  inputName = 'public-key',
  readFile?: KeyFileReader,
): KeyObject {
  const fail = (message: string, cause?: unknown): SignetError =>
    new SignetError(
      'KEY_INVALID',
      `${inputName}: ${message}; use a PEM "PUBLIC KEY" (the cosign.pub written by ` +
        '`cosign generate-key-pair`), given as PEM text or as a path to a file',
      { input: inputName, cause },
    )
  const text = resolveInput(input, inputName, fail, readFile)
  const block = firstPemBlock(text)
  if (!block) throw fail('no PEM block found')
  if (block.type !== 'PUBLIC KEY') {
    throw fail(`found a PEM "${block.type}" block where a "PUBLIC KEY" is expected`)
  }
  try {
    return createPublicKey({ key: block.der, format: 'der', type: 'spki' })
  } catch (err) {
    throw fail('the PUBLIC KEY block cannot be parsed', err)
  }
}

function wrapPem(type: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`
}

/**
 * Encrypts a private key into cosign's key-file format. N defaults to 32768, the one value every
 * cosign and containers/image release reads (formats.md F.1).
 */
export function encryptCosignKey(
  privateKey: KeyObject,
  password: string,
  opts: { pemType?: CosignPemType; N?: number } = {},
): string {
  const N = opts.N ?? SCRYPT_N_DEFAULT
  if (!SCRYPT_N_ACCEPTED.includes(N)) {
    throw new RangeError(`scrypt N must be one of ${SCRYPT_N_ACCEPTED.join(', ')}`)
  }
  const plaintext = privateKey.export({ type: 'pkcs8', format: 'der' })
  const salt = randomBytes(32)
  const nonce = randomBytes(nacl.secretbox.nonceLength)
  const boxKey = scryptSync(Buffer.from(password, 'utf8'), salt, 32, scryptOptions(N))
  const ciphertext = nacl.secretbox(plaintext, nonce, boxKey)
  boxKey.fill(0)
  plaintext.fill(0)
  // Same field order as Go's encoding/json output of go-securesystemslib's struct.
  const doc = {
    kdf: {
      name: 'scrypt',
      params: { N, r: SCRYPT_R, p: SCRYPT_P },
      salt: salt.toString('base64'),
    },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  }
  return wrapPem(opts.pemType ?? 'ENCRYPTED SIGSTORE PRIVATE KEY', Buffer.from(JSON.stringify(doc)))
}
