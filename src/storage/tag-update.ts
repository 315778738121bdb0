/**
 * Read-merge-write of a shared tag (a `.sig`/`.att` manifest, a referrers fallback index) that
 * other jobs may be writing at the same moment. Registries offer no compare-and-swap we can count
 * on (distribution 2.8 ignores If-Match), so: write, wait a moment, read back, and merge again
 * whatever a concurrent writer overwrote, until what we added is there.
 */
import { SignetError } from '../errors'
import type { FetchedManifest, Registry, Repository } from '../registry/types'

export interface TagUpdate<T> {
  /** Parse what the tag holds (undefined when the tag does not exist yet). */
  parse(current: FetchedManifest | undefined): T | undefined
  /** What to write given what is there; undefined when what we add is already there. */
  merge(current: T | undefined):
    | {
        bytes: Buffer
        mediaType: string
        blobs: { bytes: Buffer; mediaType: string; fresh?: boolean }[]
      }
    | undefined
}

export interface TagUpdateOptions {
  attempts?: number
  /**
   * The shortest pause before reading back. The pause grows with how long our own read-to-write
   * took: a concurrent writer that read before our write lands within about that long.
   */
  minSettleMs?: number
  sleep?: (ms: number) => Promise<void>
}

const defaultSleep = async (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Returns the number of writes it took (0 when what we add was there already). Done when the tag
 * holds what we added and has not changed for a settle window: a writer that read before our
 * write would have overwritten it within that window.
 */
export async function updateTag<T>(
  registry: Registry,
  repo: Repository,
  tag: string,
  update: TagUpdate<T>,
  options: TagUpdateOptions = {},
): Promise<number> {
  const attempts = options.attempts ?? 12
  const minSettleMs = options.minSettleMs ?? 100
  const sleep = options.sleep ?? defaultSleep
  let writes = 0
  let settleMs = minSettleMs
  // The tag's content when we last looked (after our write: what we wrote).
  let lastSeen: string | undefined
  const settle = async (): Promise<void> => sleep(settleMs * (1 + Math.random() / 2))
  for (let attempt = 0; attempt < attempts; attempt++) {
    const readAt = Date.now()
    const current = await registry.getManifest(repo, tag)
    const next = update.merge(update.parse(current))
    if (!next) {
      if (writes === 0) return 0
      const seen = current?.descriptor.digest
      if (seen === lastSeen) return writes
      // Someone else wrote since and kept what we added; make sure nobody is still about to.
      lastSeen = seen
      await settle()
      continue
    }
    await Promise.all(
      next.blobs.map((b) => registry.pushBlob(repo, b.bytes, b.mediaType, { fresh: b.fresh })),
    )
    try {
      const put = await registry.putManifest(repo, tag, next.bytes, next.mediaType, {
        ifMatch: current?.etag,
      })
      lastSeen = put.digest
    } catch (err) {
      // If-Match failed (412): someone wrote between our read and our write; read again, merge.
      if (!(err instanceof SignetError && err.code === 'CONCURRENT_WRITE')) throw err
      lastSeen = undefined
    }
    writes++
    // Others doing the same work take about as long from read to write as we did.
    settleMs = Math.min(Math.max(2 * (Date.now() - readAt), minSettleMs), 5000)
    await settle()
  }
  throw new SignetError(
    'CONCURRENT_WRITE',
    `${repo.registry}/${repo.repository}:${tag} kept changing under concurrent writers; run the step again`,
  )
}
