/**
 * How many writes one origin (a registry) is sent at once: as many as it answers without keeping
 * them waiting. A registry across the network answers about as fast with 40 writes in flight as
 * with one, and Signet keeps that many going; a registry that has run out of CPU (one beside the
 * job, a service container on a small runner) queues them, and every answer then waits behind
 * every other one. A shared tag's read-merge-write waits among them, and its read-to-write time
 * sets how long the tag settles before it is read back (storage/tag-update.ts): a queue of our own
 * making stretched that pause for every tag written in it (issue 11: on loopback, tag writes took
 * 50-100 ms under the run's own uploads, their settle pauses 250 ms and more).
 *
 * So the limit follows the answers: one more than twice as slow as the origin's fastest answer
 * (any request's: a small read is the best measure of the way there and back), and a few
 * milliseconds more, says writes are queueing, and the limit goes down by one; any other answer,
 * up by one, between `min` and `max`. Writes over the limit wait here, where urgent ones (a
 * tag's) go first, rather than in the registry's queue, where they cannot. On a registry whose
 * writes are simply slower than its reads the limit settles at `min` (8): docker push sends 5
 * layers at once.
 *
 * Reads are timed but never held: a verify run only reads, and its answers wait on Signet's own
 * CPU as much as on the registry's. Only small requests are timed: a large upload's time is its
 * bytes', not a queue's.
 */
export interface RequestLimitOptions {
  /** Writes in flight before any answer is timed. */
  initial?: number
  min?: number
  max?: number
  /** Milliseconds; tests give a clock. */
  now?: () => number
}

export interface LimitedRequest {
  /** A write: sent when a slot is free. Other requests go at once. */
  limited?: boolean
  /** Goes before every write that is not urgent, when writes wait. */
  urgent?: boolean
  /** Its answer's time says how busy the origin is (a small request's). */
  timed?: boolean
}

/** An answer this much slower than the fastest, and SLACK_MS more, is queueing. */
const QUEUE_FACTOR = 2
/** Timer and scheduling noise: within it, a loopback answer is not taken for a queue. */
const SLACK_MS = 5

export class RequestLimit {
  /** The current limit (read by tests). */
  limit: number
  private inFlight = 0
  private fastest = Infinity
  private readonly min: number
  private readonly max: number
  private readonly now: () => number
  private readonly urgent: (() => void)[] = []
  private readonly normal: (() => void)[] = []

  constructor(options: RequestLimitOptions = {}) {
    this.min = options.min ?? 8
    this.max = options.max ?? 64
    this.limit = Math.min(Math.max(options.initial ?? 16, this.min), this.max)
    this.now = options.now ?? (() => performance.now())
  }

  /** Writes waiting for a slot. */
  get waiting(): number {
    return this.urgent.length + this.normal.length
  }

  /** Runs `send`, a write once a slot is free (held until `send` settles). */
  async run<T>(request: LimitedRequest, send: () => Promise<T>): Promise<T> {
    if (!request.limited) return this.timed(request, send)
    if (this.inFlight < this.limit && this.waiting === 0) this.inFlight++
    // Else dispatch() takes the slot for us before it wakes us.
    else await new Promise<void>((go) => (request.urgent ? this.urgent : this.normal).push(go))
    try {
      return await this.timed(request, send)
    } finally {
      this.inFlight--
      this.dispatch()
    }
  }

  private async timed<T>(request: LimitedRequest, send: () => Promise<T>): Promise<T> {
    const started = this.now()
    const answer = await send()
    if (request.timed) this.observe(this.now() - started)
    return answer
  }

  private observe(ms: number): void {
    this.fastest = Math.min(this.fastest, ms)
    const queueing = ms > QUEUE_FACTOR * this.fastest + SLACK_MS
    this.limit = queueing ? Math.max(this.min, this.limit - 1) : Math.min(this.max, this.limit + 1)
    this.dispatch()
  }

  private dispatch(): void {
    while (this.inFlight < this.limit) {
      const go = this.urgent.shift() ?? this.normal.shift()
      if (!go) return
      this.inFlight++
      go()
    }
  }
}
