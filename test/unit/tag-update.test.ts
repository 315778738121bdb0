import { createHash } from 'node:crypto'
import { SignetError } from '../../src/errors'
import { appendToLegacyTag } from '../../src/storage/write-tags'
import { SettleWindow, updateTag } from '../../src/storage/tag-update'
import type {
  Descriptor,
  FetchedManifest,
  ImageManifest,
  PutManifestResult,
  Registry,
  Repository,
} from '../../src/registry/types'

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`
const repo: Repository = { registry: 'r.example', repository: 'a/b' }

/** A registry in memory whose tag writes can be interleaved by the test. */
class FakeRegistry implements Registry {
  tags = new Map<string, Buffer>()
  blobs = new Set<string>()
  puts = 0
  /** Called before each manifest PUT lands: lets a test play a concurrent writer. */
  beforePut?: () => void
  honourIfMatch = false

  async headManifest(): Promise<Descriptor | undefined> {
    return undefined
  }
  async getManifest(_repo: Repository, reference: string): Promise<FetchedManifest | undefined> {
    const bytes = this.tags.get(reference)
    if (!bytes) return undefined
    const digest = digestOf(bytes)
    return {
      descriptor: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest,
        size: bytes.length,
      },
      bytes,
      etag: digest,
    }
  }
  async putManifest(
    _repo: Repository,
    reference: string,
    bytes: Buffer,
    _mt: string,
    options?: { ifMatch?: string },
  ): Promise<PutManifestResult> {
    this.beforePut?.()
    const current = this.tags.get(reference)
    if (
      this.honourIfMatch &&
      options?.ifMatch &&
      current &&
      digestOf(current) !== options.ifMatch
    ) {
      throw new SignetError('CONCURRENT_WRITE', '412')
    }
    this.puts++
    this.tags.set(reference, bytes)
    return { digest: digestOf(bytes) }
  }
  async pushBlob(_repo: Repository, bytes: Buffer, mediaType: string): Promise<Descriptor> {
    this.blobs.add(digestOf(bytes))
    return { mediaType, digest: digestOf(bytes), size: bytes.length }
  }
  async getBlob(): Promise<Buffer> {
    return Buffer.alloc(0)
  }
  async referrers() {
    return undefined
  }
}

const layer = (name: string) => ({
  mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
  bytes: Buffer.from(`payload ${name}`),
  annotations: { 'dev.cosignproject.cosign/signature': name },
})
const layersOf = (registry: FakeRegistry, tag: string) =>
  (JSON.parse(registry.tags.get(tag)!.toString()) as ImageManifest).layers.map(
    (l) => l.annotations?.['dev.cosignproject.cosign/signature'],
  )
const noSleep = { sleep: async () => undefined }

/** Another signer's write to t.sig: the manifest it read (`base`) with its own layer added. */
function writeAsAnotherSigner(registry: FakeRegistry, base: Buffer, signature: string): void {
  const manifest = JSON.parse(base.toString()) as ImageManifest
  const bytes = Buffer.from(signature)
  manifest.layers.push({
    mediaType: 'x',
    digest: digestOf(bytes),
    size: bytes.length,
    annotations: { 'dev.cosignproject.cosign/signature': signature },
  })
  registry.tags.set('t.sig', Buffer.from(JSON.stringify(manifest)))
}

describe('appending to a shared tag', () => {
  it('writes once and confirms', async () => {
    const registry = new FakeRegistry()
    await appendToLegacyTag(registry, repo, 't.sig', [layer('a')], noSleep)
    expect(layersOf(registry, 't.sig')).toEqual(['a'])
    expect(registry.puts).toBe(1)
    expect(registry.blobs.has(digestOf(Buffer.from('payload a')))).toBe(true)
  })

  it('writes nothing when the signature is there already', async () => {
    const registry = new FakeRegistry()
    await appendToLegacyTag(registry, repo, 't.sig', [layer('a')], noSleep)
    await appendToLegacyTag(registry, repo, 't.sig', [layer('a')], noSleep)
    expect(registry.puts).toBe(1)
  })

  it('merges again what a concurrent writer overwrote (a registry without If-Match)', async () => {
    const registry = new FakeRegistry()
    await appendToLegacyTag(registry, repo, 't.sig', [layer('first')], noSleep)
    const stale = registry.tags.get('t.sig')!
    let raced = false
    // A writer that read before our write puts its own version right after ours lands.
    const sleep = async () => {
      if (!raced) {
        raced = true
        writeAsAnotherSigner(registry, stale, 'other')
      }
    }
    await appendToLegacyTag(registry, repo, 't.sig', [layer('mine')], { sleep })
    expect(layersOf(registry, 't.sig').sort()).toEqual(['first', 'mine', 'other'])
    expect(registry.puts).toBe(3)
  })

  it('waits for the tag to be stable when others keep writing', async () => {
    const registry = new FakeRegistry()
    let sleeps = 0
    // After our write, another writer appends its own layer (keeping ours) twice in a row.
    const sleep = async () => {
      sleeps++
      if (sleeps <= 2) writeAsAnotherSigner(registry, registry.tags.get('t.sig')!, `o${sleeps}`)
    }
    const writes = await updateTag(
      registry,
      repo,
      't.sig',
      {
        parse: (c) => (c ? (JSON.parse(c.bytes.toString()) as ImageManifest) : undefined),
        merge: (c) =>
          c
            ? undefined
            : {
                bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, config: {}, layers: [] })),
                mediaType: 'x',
                blobs: [],
              },
      },
      { sleep },
    )
    expect(writes).toBe(1)
    // one pause after the write, one for each change seen, then a read that finds it unchanged
    expect(sleeps).toBe(3)
  })

  it('reads again and merges on 412 where the registry honours If-Match', async () => {
    const registry = new FakeRegistry()
    registry.honourIfMatch = true
    await appendToLegacyTag(registry, repo, 't.sig', [layer('first')], noSleep)
    let once = true
    registry.beforePut = () => {
      if (once) {
        once = false
        writeAsAnotherSigner(registry, registry.tags.get('t.sig')!, 'z')
      }
    }
    await appendToLegacyTag(registry, repo, 't.sig', [layer('mine')], noSleep)
    expect(layersOf(registry, 't.sig').sort()).toEqual(['first', 'mine', 'z'])
  })

  it('gives up with CONCURRENT_WRITE when the tag never settles', async () => {
    const registry = new FakeRegistry()
    // every read finds our layer gone
    registry.getManifest = async () => undefined
    await expect(
      appendToLegacyTag(registry, repo, 't.sig', [layer('a')], { ...noSleep, attempts: 3 }),
    ).rejects.toMatchObject({ code: 'CONCURRENT_WRITE' })
  })
})

describe('one settle window for a run', () => {
  it('returns after each write; each tag pauses and reads back apart from the writers', async () => {
    const registry = new FakeRegistry()
    let reads = 0
    const getManifest = registry.getManifest.bind(registry)
    registry.getManifest = async (r, reference) => {
      reads++
      return getManifest(r, reference)
    }
    const pauses: number[] = []
    let release = (): void => undefined
    const released = new Promise<void>((resolve) => (release = resolve))
    const window = new SettleWindow({
      sleep: async (ms) => {
        pauses.push(ms)
        await released
      },
    })
    const confirmations: Promise<number>[] = []
    const deferTo = { window, confirmations }
    // Each returns after its write; its pause has begun, its read-back waits for it.
    await appendToLegacyTag(registry, repo, 'a.sig', [layer('a')], { deferTo })
    await appendToLegacyTag(registry, repo, 'b.sig', [layer('b')], { deferTo })
    await new Promise((resolve) => setImmediate(resolve))
    expect(reads).toBe(2)
    expect(pauses).toHaveLength(2)
    expect(confirmations).toHaveLength(2)
    release()
    await expect(Promise.all(confirmations)).resolves.toEqual([1, 1])
    expect(reads).toBe(4)
    expect(layersOf(registry, 'a.sig')).toEqual(['a'])
  })

  it('issue 11: each tag waits its own settle time, not the longest of the run', async () => {
    const registry = new FakeRegistry()
    const pauses: number[] = []
    const window = new SettleWindow({ sleep: async (ms) => void pauses.push(ms) })
    const confirmations: Promise<number>[] = []
    await appendToLegacyTag(registry, repo, 'slow.sig', [layer('a')], {
      deferTo: { window, confirmations },
      minSettleMs: 4_000,
    })
    await appendToLegacyTag(registry, repo, 'fast.sig', [layer('b')], {
      deferTo: { window, confirmations },
      minSettleMs: 100,
    })
    await Promise.all(confirmations)
    expect(pauses).toHaveLength(2)
    const [slow, fast] = pauses as [number, number]
    expect(slow).toBeGreaterThan(3_900)
    expect(fast).toBeLessThanOrEqual(150)
  })

  it('merges again after the shared pause what a concurrent writer overwrote', async () => {
    const registry = new FakeRegistry()
    await appendToLegacyTag(registry, repo, 't.sig', [layer('first')], noSleep)
    const stale = registry.tags.get('t.sig')!
    let raced = false
    const window = new SettleWindow({
      sleep: async () => {
        if (!raced) {
          raced = true
          writeAsAnotherSigner(registry, stale, 'other')
        }
      },
    })
    const confirmations: Promise<number>[] = []
    await appendToLegacyTag(registry, repo, 't.sig', [layer('mine')], {
      deferTo: { window, confirmations },
      minSettleMs: 60_000,
    })
    await expect(Promise.all(confirmations)).resolves.toEqual([2])
    expect(layersOf(registry, 't.sig').sort()).toEqual(['first', 'mine', 'other'])
  })

  it('hands a tag that never settles to the caller as a rejected confirmation', async () => {
    const registry = new FakeRegistry()
    const window = new SettleWindow({ sleep: async () => undefined })
    const confirmations: Promise<number>[] = []
    await appendToLegacyTag(registry, repo, 't.sig', [layer('a')], {
      deferTo: { window, confirmations },
      attempts: 3,
    })
    registry.getManifest = async () => undefined
    await expect(confirmations[0]).rejects.toMatchObject({ code: 'CONCURRENT_WRITE' })
  })
})
