/**
 * Read-merge-write of a shared tag (a `.sig`/`.att` manifest, a referrers fallback index) that
 * other jobs may be writing at the same moment. Registries offer no compare-and-swap we can count
 * on (distribution 2.8 ignores If-Match), so: write, wait a moment, read back, and merge again
 * whatever a concurrent writer overwrote, until what we added is there.
 *
 * A run that writes many tags shares one settle window (SettleWindow): each tag is written, and
 * its pause and read-back run apart from the writers, so no image holds a concurrency slot while
 * it waits, and the pauses of all tags overlap one another and the other images' writes. The run
 * then pays one pause after its last write, not one per image. Each tag waits its own settle time
 * (issue 11: waiting for the run's longest, set by the slowest read under load, held every
 * read-back to 2-3 times the shortest pause).
 *
 * A registry that keeps tags immutable refuses the second write to a tag: that is one TAG_IMMUTABLE
 * error naming the ways out (immutable-tags.ts), not a retry, and the tag keeps what it held.
 */
import { SignetError } from '../errors'
import { immutableTagError, isImmutableTagRefusal } from './immutable-tags'
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
  /**
   * Share the run's settle window: updateTag returns after its first write, and the pause, the
   * read-back and any merge run in the window; their outcome (the number of writes, or the error)
   * goes into `confirmations`, which the caller awaits once every image is written.
   */
  deferTo?: { window: SettleWindow; confirmations: Promise<number>[] }
}

const defaultSleep = async (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * The settle pauses and read-backs of the tags a run writes, apart from the writers: each tag
 * waits its own settle time after its own write, then reads back, at most `concurrency` at a time.
 */
export class SettleWindow {
  private active = 0
  private readonly queue: (() => void)[] = []
  private readonly sleep: (ms: number) => Promise<void>
  private readonly concurrency: number
  /**
   * The random stretch of every pause in this window (1 to 1.5), drawn once: it keeps concurrent
   * runs from reading back in step, and one draw per run does that as well as one per tag.
   */
  readonly jitter = 1 + Math.random() / 2

  constructor(options: { sleep?: (ms: number) => Promise<void>; concurrency?: number } = {}) {
    this.sleep = options.sleep ?? defaultSleep
    this.concurrency = options.concurrency ?? 16
  }

  /** Resolves no earlier than `readyAt` (a Date.now() time). */
  async waitUntil(readyAt: number): Promise<void> {
    const ms = readyAt - Date.now()
    if (ms > 0) await this.sleep(ms)
  }

  /** Runs a read-back (and its merge and write) within the window's bound. */
  async turn<R>(fn: () => Promise<R>): Promise<R> {
    if (this.active >= this.concurrency) await new Promise<void>((r) => this.queue.push(r))
    else this.active++
    try {
      return await fn()
    } finally {
      const next = this.queue.shift()
      if (next) next()
      else this.active--
    }
  }
}

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
  const window = options.deferTo?.window
  let writes = 0
  let settleMs = minSettleMs
  // The tag's content when we last looked (after our write: what we wrote).
  let lastSeen: string | undefined
  // When the read-back may start: a settle window after our last write (or last look).
  let readyAt = 0
  const settle = async (): Promise<void> =>
    window ? window.waitUntil(readyAt) : sleep(readyAt - Date.now())
  const pause = (): void => {
    readyAt = Date.now() + settleMs * (window?.jitter ?? 1 + Math.random() / 2)
  }

  /** One read, merge and (when needed) write; true when the tag is settled with what we add. */
  const step = async (): Promise<boolean> => {
    const current = await registry.getManifest(repo, tag)
    // A concurrent writer's window runs from the registry reading the tag for it to the registry
    // storing its write: timed from our read's answer, not from our asking, since the time our
    // read waited in the registry's queue came before the read and is no part of that window
    // (issue 11: under a run's own uploads, up to half of what was timed).
    const readAt = Date.now()
    const next = update.merge(update.parse(current))
    if (!next) {
      if (writes === 0) return true
      const seen = current?.descriptor.digest
      if (seen === lastSeen) return true
      // Someone else wrote since and kept what we added; make sure nobody is still about to.
      lastSeen = seen
      pause()
      return false
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
      if (isImmutableTagRefusal(err, { repo, tag, overwriting: current !== undefined }))
        throw immutableTagError(repo, tag, err)
      // If-Match failed (412): someone wrote between our read and our write; read again, merge.
      if (!(err instanceof SignetError && err.code === 'CONCURRENT_WRITE')) throw err
      lastSeen = undefined
    }
    writes++
    // Others doing the same work take about as long from read to write as we did (timed above).
    settleMs = Math.min(Math.max(2 * (Date.now() - readAt), minSettleMs), 5000)
    pause()
    return false
  }

  /** Pause, read back, merge again: until the tag is stable with what we add, or out of attempts. */
  const confirm = async (attempt: number): Promise<number> => {
    for (; attempt < attempts; attempt++) {
      await settle()
      if (await (window ? window.turn(step) : step())) return writes
    }
    throw new SignetError(
      'CONCURRENT_WRITE',
      `${repo.registry}/${repo.repository}:${tag} kept changing under concurrent writers; run the step again`,
    )
  }

  if (await step()) return writes
  if (!options.deferTo) return confirm(1)
  const confirmed = confirm(1)
  // Awaited by the caller once every image is written; never an unhandled rejection before that.
  confirmed.catch(() => undefined)
  options.deferTo.confirmations.push(confirmed)
  return writes
}
