/** Sign mode: every resolved digest signed once, in the chosen formats, in parallel with a bound. */
import { bundleToJSON, type Bundle } from '@sigstore/bundle'
import { ByteBudget, mapLimit } from '../concurrency'
import { describeError } from '../errors'
import { appliesTo, type PlannedAttestation } from './attestation-plan'
import {
  existingFor,
  NOTHING_EXISTING,
  type Existing,
  type ExistingByFormat,
  type ExistingLookup,
  type Found,
  type RunSigner,
} from './existing'
import {
  attestationTag,
  signatureTag,
  DSSE_ENVELOPE_MEDIA_TYPE,
  legacyAnnotations,
  type LegacyLayer,
} from '../formats/cosign-tags'
import { describeStoreFailure, type AttestationStore } from '../github/attestation-store'
import { buildSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from '../formats/simple-signing'
import {
  buildSignatureStatement,
  COSIGN_SIGN_PREDICATE_TYPE,
  serializeAttestationStatement,
  serializeStatement,
} from '../formats/statement'
import type { SignatureFormat } from '../inputs'
import { appendToLegacyTag, writeLegacySignature } from '../storage/write-tags'
import { ReferrerBatch, ReferrersSupport } from '../storage/write-referrer'
import { SettleWindow, type TagUpdateOptions } from '../storage/tag-update'
import { signatureStore, type SignatureStore } from '../storage/signature-repository'
import type { ImageReference } from '../registry/reference'
import type { Registry } from '../registry/types'
import type { AttestationRecord, ImageResult, Logger, SignatureRecord } from '../report/types'
import type { ResolvedImage } from '../subjects/resolve'
import type { SigningSession } from '../sigstore/signing-session'

/**
 * Images signed at once. The work is waiting on Rekor, the timestamp authority and registries,
 * not computing, so a generous bound helps (up to 32 images go in one wave); it stays bounded so a
 * registry is not flooded.
 */
export const SIGN_CONCURRENCY = 32

export interface SignOptions {
  format: SignatureFormat
  annotations: Record<string, string>
  /** Attested to each requested image (not to the platform manifests `recursive` adds). */
  attestations?: PlannedAttestation[]
  /** GitHub's attestations API, when github-attestations is on. */
  githubStore?: AttestationStore
  /**
   * Receives every bundle of an image once the image is signed: its tags read back holding its
   * signatures (bundle-path). A bundle whose tag never settled is not handed out.
   */
  onBundle?: (bundle: Bundle) => void
  /**
   * Called once every image is written and only the read-backs remain, each after its settle
   * pause: the run waits on timers for a tenth of a second or more, and the caller can get ready
   * for what comes after (the action loads its report's policy generators).
   */
  whileSettling?: () => void
  /** Where signatures and attestations go instead of each image's repository (COSIGN_REPOSITORY). */
  signatureRepository?: ImageReference
  /**
   * Re-runs finish the job: what each image already carries from this signer (./existing.ts) is
   * left alone and reported; absent, everything is signed.
   */
  rerun?: { lookup: ExistingLookup; signer: RunSigner }
  concurrency?: number
  log: Logger
}

export interface SignRun {
  results: ImageResult[]
  /** How many bundles went to onBundle (those of the images signed). */
  bundleCount: number
  /** Why images were not signed, in result order (for the step's one error). */
  errors: unknown[]
}

function tlogFacts(bundle: Bundle): Pick<SignatureRecord, 'rekorLogIndex' | 'rekorIntegratedTime'> {
  const entry = bundle.verificationMaterial.tlogEntries[0]
  return entry
    ? { rekorLogIndex: Number(entry.logIndex), rekorIntegratedTime: Number(entry.integratedTime) }
    : {}
}

export async function signImages(
  registry: Registry,
  session: SigningSession,
  images: ResolvedImage[],
  options: SignOptions,
): Promise<SignRun> {
  let bundleCount = 0
  const collect = (bundle: Bundle): void => {
    bundleCount++
    options.onBundle?.(bundle)
  }
  const support = new ReferrersSupport()
  const concurrency = options.concurrency ?? SIGN_CONCURRENCY
  // Each image's shared tags are written, then paused on and read back apart from the writers
  // (tag-update.ts): no image holds its slot through a pause.
  const window = new SettleWindow({ concurrency })
  const attestRun: AttestRun = {
    registry,
    session,
    format: options.format,
    budget: new ByteBudget(ATTESTATION_MEMORY_BUDGET),
    log: options.log,
  }
  const written = await mapLimit(images, concurrency, async (image, index) => {
    // The re-run check's reads run a slot ahead: the image that takes this slot next has them.
    const next = images[index + concurrency]
    if (next) options.rerun?.lookup.prefetch([next])
    const confirmations: Promise<number>[] = []
    const store = signatureStore(image, options.signatureRepository)
    // Handed out once the image's tags are confirmed, after the settle window (below).
    const made: Bundle[] = []
    const tagOptions: TagUpdateOptions = { deferTo: { window, confirmations } }
    // The image's bundle referrers (signature and attestations) go into its fallback index in
    // one tag update once all are written, not one update each.
    const referrers = new ReferrerBatch(registry, store.repo, image.descriptor, support, tagOptions)
    const result: ImageResult = {
      image: image.name,
      digest: image.digest,
      mediaType: image.descriptor.mediaType,
      parent: image.parent,
      platform: image.platform,
      signed: false,
      signatures: [],
      attestations: [],
    }
    try {
      const attestations = image.parent
        ? []
        : (options.attestations ?? []).filter((a) => appliesTo(a, image.name, image.digest))
      const existing = await existingOn(image, attestations, options)
      const has = existing.signature
      // The formats and the attestations are independent writes: do them at once.
      const [legacy, bundle, attested] = await Promise.all([
        wants(options.format, 'legacy') && !has.legacy
          ? signLegacy(registry, session, image, store, options.annotations, tagOptions)
          : undefined,
        wants(options.format, 'bundle') && !has.bundle
          ? signBundle(session, image, store, options.annotations, referrers)
          : undefined,
        attestImage(attestRun, image, store, attestations, existing, { tagOptions, referrers }),
      ])
      await referrers.commit()
      for (const format of FORMATS) {
        const signed = format === 'legacy' ? legacy : bundle
        const found = has[format]
        if (signed) {
          made.push(signed.bundle)
          result.signatures.push(signed.record)
        } else if (found && wants(options.format, format)) {
          const tag = signatureTag(image.digest)
          result.signatures.push({ format, ...existingRecord(store, format, found, tag) })
        }
      }
      for (const a of attested) {
        if (a.bundle) made.push(a.bundle)
        result.attestations.push(...a.records)
      }
      if (!legacy && !bundle && attested.every((a) => !a.bundle)) {
        result.alreadySigned = true
        options.log.info(`${image.name}@${image.digest}: already signed by this signer; left alone`)
      }
      if (options.githubStore) {
        // What this run made: what was already there was stored (or not) by the run that made it.
        const toStore = [bundle?.bundle, ...attested.map((a) => a.bundle)].filter(
          (b): b is Bundle => b !== undefined,
        )
        await storeOnGitHub(options.githubStore, toStore, image, result, options.log)
      }
      result.signed = true
    } catch (err) {
      return { result, confirmations, made: [], failure: { reason: err } }
    }
    return { result, confirmations, made }
  })
  options.whileSettling?.()
  // An image is signed once every tag it wrote has been read back holding its signatures.
  const errors: unknown[] = []
  const results: ImageResult[] = []
  for (const { result, confirmations, made, failure } of written) {
    const confirmed = await Promise.allSettled(confirmations)
    const unconfirmed = confirmed.find((c) => c.status === 'rejected')
    const reason: unknown = failure ? failure.reason : (unconfirmed?.reason as unknown)
    if (failure || unconfirmed) {
      result.signed = false
      result.error = describeError(reason)
      errors.push(reason)
      options.log.warning(`${result.image}@${result.digest}: not signed: ${result.error}`)
    } else {
      for (const bundle of made) collect(bundle)
    }
    results.push(result)
  }
  return { results, bundleCount, errors }
}

interface Written {
  bundle: Bundle
  record: SignatureRecord
}

const FORMATS = ['legacy', 'bundle'] as const

/** Whether the signature-format input asks for `format`. */
function wants(requested: SignatureFormat, format: (typeof FORMATS)[number]): boolean {
  return requested === 'both' || requested === format
}

/** What `image` already carries from this run's signer; nothing when there is no re-run check. */
async function existingOn(
  image: ResolvedImage,
  attestations: PlannedAttestation[],
  options: SignOptions,
): Promise<Existing> {
  if (!options.rerun) return NOTHING_EXISTING
  const discovery = await options.rerun.lookup.read(image)
  if (!discovery) return NOTHING_EXISTING
  return existingFor(discovery, image.digest, options.rerun.signer, attestations)
}

/**
 * A record of a signature or attestation that was already there (`existing: true`), named as a
 * written one would be, in the store: the legacy tag (`legacyTag`), or the referrer's digest.
 */
function existingRecord(
  store: SignatureStore,
  format: 'legacy' | 'bundle',
  found: Found,
  legacyTag: string,
): Omit<SignatureRecord, 'format'> & { existing: true } {
  const referrer = found.reference.slice(found.reference.lastIndexOf('@') + 1)
  return {
    reference: format === 'legacy' ? `${store.name}:${legacyTag}` : `${store.name}@${referrer}`,
    existing: true,
    ...(found.rekorLogIndex !== undefined
      ? { rekorLogIndex: found.rekorLogIndex, rekorIntegratedTime: found.rekorIntegratedTime }
      : {}),
  }
}

async function signLegacy(
  registry: Registry,
  session: SigningSession,
  image: ResolvedImage,
  store: SignatureStore,
  annotations: Record<string, string>,
  tagOptions: TagUpdateOptions,
): Promise<Written> {
  const payload = buildSimpleSigningPayload(image.name, image.digest, annotations)
  const signed = await session.signPayload(payload)
  const tag = await writeLegacySignature(
    registry,
    store.repo,
    image.digest,
    {
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      bytes: payload,
      annotations: legacyAnnotations(signed.legacy),
    },
    tagOptions,
  )
  return {
    bundle: signed.bundle,
    record: { format: 'legacy', reference: `${store.name}:${tag}`, ...tlogFacts(signed.bundle) },
  }
}

async function signBundle(
  session: SigningSession,
  image: ResolvedImage,
  store: SignatureStore,
  annotations: Record<string, string>,
  referrers: ReferrerBatch,
): Promise<Written> {
  const statement = serializeStatement(buildSignatureStatement(image.digest, annotations))
  const signed = await session.signStatement(statement)
  const bundleJson = Buffer.from(JSON.stringify(bundleToJSON(signed.bundle)))
  const written = await referrers.write(bundleJson, COSIGN_SIGN_PREDICATE_TYPE)
  return {
    bundle: signed.bundle,
    record: {
      format: 'bundle',
      reference: `${store.name}@${written.digest}`,
      fallbackTag: written.fallbackTag,
      ...tlogFacts(signed.bundle),
    },
  }
}

/** Bytes of attestation encodings held at once across images (see ByteBudget). */
const ATTESTATION_MEMORY_BUDGET = 64 * 1024 * 1024

/** Kyverno's limit on a bundle layer it reads. */
const KYVERNO_MAX_BUNDLE_BYTES = 10 * 1024 * 1024

interface Attested {
  /** The bundle signed in this run; none when every requested format was already there. */
  bundle?: Bundle
  records: AttestationRecord[]
}

/** Where an image's writes go: its shared tags' settle options, its referrers' batch. */
interface ImageWrites {
  tagOptions: TagUpdateOptions
  referrers: ReferrerBatch
}

/** A planned attestation and what of it the image already carries. */
interface ToAttest {
  attestation: PlannedAttestation
  has: ExistingByFormat
}

/**
 * Each attestation signed once (one DSSE envelope, one Rekor entry) and written in the chosen
 * formats it is missing in: the envelope as a `.att` layer (all of an image's in one tag update)
 * and the bundle as a referrer (listed in the fallback index with the image's other referrers,
 * in one update: ReferrerBatch). One already there in every chosen format is not signed again.
 */
async function attestImage(
  run: AttestRun,
  image: ResolvedImage,
  store: SignatureStore,
  attestations: PlannedAttestation[],
  existing: Existing,
  writes: ImageWrites,
): Promise<Attested[]> {
  const all = attestations.map((attestation) => ({
    attestation,
    has: existing.attestations.get(attestation) ?? {},
  }))
  const missing = (t: ToAttest): boolean => FORMATS.some((f) => wants(run.format, f) && !t.has[f])
  const toSign = all.filter(missing)
  const present = all
    .filter((t) => !missing(t))
    .map((t) => ({ records: existingAttestationRecords(run.format, image, store, t) }))
  if (toSign.length === 0) return present
  // The statement, its base64 in the envelope, the bundle and the layer each hold the predicate.
  const bytes = toSign.reduce((n, t) => n + 5 * t.attestation.predicateJson.length, 0)
  const signed = await run.budget.use(bytes, async () =>
    writeAttestations(run, image, store, toSign, writes),
  )
  return [...signed, ...present]
}

/** The records of the chosen formats an attestation was already there in. */
function existingAttestationRecords(
  format: SignatureFormat,
  image: ResolvedImage,
  store: SignatureStore,
  { attestation, has }: ToAttest,
): AttestationRecord[] {
  return FORMATS.flatMap((f) => {
    const found = has[f]
    if (!found || !wants(format, f)) return []
    const record = existingRecord(store, f, found, attestationTag(image.digest))
    return [{ predicateType: attestation.predicateType, format: f, ...record }]
  })
}

/** What every image's attestations share in one run. */
interface AttestRun {
  registry: Registry
  session: SigningSession
  format: SignatureFormat
  budget: ByteBudget
  log: Logger
}

async function writeAttestations(
  { registry, session, format, log }: AttestRun,
  image: ResolvedImage,
  store: SignatureStore,
  attestations: ToAttest[],
  { tagOptions, referrers }: ImageWrites,
): Promise<Attested[]> {
  const signed = await Promise.all(
    attestations.map(async ({ attestation: a, has }) => ({
      attestation: a,
      has,
      signed: await session.signStatement(
        serializeAttestationStatement(image.name, image.digest, a.predicateType, a.predicateJson),
      ),
    })),
  )
  // What was already there in one chosen format is reported, and written in the other only.
  const attested: Attested[] = signed.map((s) => ({
    bundle: s.signed.bundle,
    records: existingAttestationRecords(format, image, store, s),
  }))
  const writes: Promise<void>[] = []
  const toLegacy = signed.filter((s) => wants(format, 'legacy') && !s.has.legacy)
  if (toLegacy.length > 0) {
    const layers: LegacyLayer[] = toLegacy.map((s) => ({
      mediaType: DSSE_ENVELOPE_MEDIA_TYPE,
      bytes: s.signed.envelopeJson,
      annotations: legacyAnnotations(s.signed.legacy, s.attestation.predicateType),
    }))
    const tag = attestationTag(image.digest)
    writes.push(
      appendToLegacyTag(registry, store.repo, tag, layers, tagOptions).then(() => {
        toLegacy.forEach((s) =>
          attested[signed.indexOf(s)].records.push({
            predicateType: s.attestation.predicateType,
            format: 'legacy',
            reference: `${store.name}:${tag}`,
            ...tlogFacts(s.signed.bundle),
          }),
        )
      }),
    )
  }
  if (wants(format, 'bundle')) {
    signed.forEach((s, i) => {
      if (s.has.bundle) return
      const bundleJson = Buffer.from(JSON.stringify(bundleToJSON(s.signed.bundle)))
      if (bundleJson.length > KYVERNO_MAX_BUNDLE_BYTES) {
        log.warning(
          `${image.name}@${image.digest}: the ${s.attestation.predicateType} bundle is ` +
            `${(bundleJson.length / 1024 / 1024).toFixed(1)} MB; Kyverno reads no bundle over 10 MB ` +
            '(the predicate is base64-encoded inside, a third larger than the file)',
        )
      }
      writes.push(
        referrers.write(bundleJson, s.attestation.predicateType).then((written) => {
          attested[i].records.push({
            predicateType: s.attestation.predicateType,
            format: 'bundle',
            reference: `${store.name}@${written.digest}`,
            fallbackTag: written.fallbackTag,
            ...tlogFacts(s.signed.bundle),
          })
        }),
      )
    })
  }
  await Promise.all(writes)
  return attested
}

/** GitHub's attestations API is a copy for `gh attestation verify`: a failure there only warns. */
async function storeOnGitHub(
  store: AttestationStore,
  bundles: Bundle[],
  image: ResolvedImage,
  result: ImageResult,
  log: Logger,
): Promise<void> {
  for (const bundle of bundles) {
    try {
      const stored = await store.store(bundleToJSON(bundle), image.digest)
      const predicateType = predicateTypeOf(bundle)
      // One signed attestation is written in each format asked for: every record of it gets the
      // URL, so which write finished first does not decide where a reader finds it. (Not one a
      // re-run found already there: that is another run's signature, stored or not by that run.)
      for (const record of result.attestations) {
        if (record.predicateType === predicateType && stored.url && !record.existing) {
          record.githubAttestation = stored.url
        }
      }
    } catch (err) {
      log.warning(`${image.name}@${image.digest}: ${describeStoreFailure(err)}`)
      return
    }
  }
}

function predicateTypeOf(bundle: Bundle): string | undefined {
  if (bundle.content.$case !== 'dsseEnvelope') return undefined
  try {
    return (
      JSON.parse(bundle.content.dsseEnvelope.payload.toString('utf8')) as { predicateType?: string }
    ).predicateType
  } catch {
    return undefined
  }
}
