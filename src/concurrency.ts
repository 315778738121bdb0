/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index], index)
    }
  })
  await Promise.all(workers)
  return results
}

/**
 * A memory budget shared by concurrent work: `use(bytes, fn)` waits until the bytes fit (one
 * piece of work always fits, however large), so ten 10 MB attestations signed at once do not
 * hold ten copies of every encoding in memory together.
 */
export class ByteBudget {
  private used = 0
  private readonly waiting: (() => void)[] = []

  constructor(private readonly limit: number) {}

  async use<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
    while (this.used > 0 && this.used + bytes > this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    }
    this.used += bytes
    try {
      return await fn()
    } finally {
      this.used -= bytes
      // Wake everyone: each re-checks whether it fits now.
      for (const wake of this.waiting.splice(0)) wake()
    }
  }
}

/**
 * Resolves after the event loop has polled for I/O once: requests just started (their sockets
 * connecting, their first bytes written) go out before CPU-bound work that follows (loading
 * sigstore-js) holds the loop, and their answers travel while it runs.
 */
export function networkTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
