import { ByteBudget, mapLimit } from '../../src/concurrency'

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0
    let most = 0
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++
      most = Math.max(most, running)
      await new Promise((r) => setTimeout(r, n))
      running--
      return n * 10
    })
    expect(out).toEqual([50, 10, 40, 20, 30])
    expect(most).toBe(2)
  })
})

describe('ByteBudget', () => {
  it('holds work back until its bytes fit, but always lets one piece run', async () => {
    const budget = new ByteBudget(100)
    const running = new Set<number>()
    const seen: number[][] = []
    const work = (id: number, bytes: number) =>
      budget.use(bytes, async () => {
        running.add(id)
        seen.push([...running])
        await new Promise((r) => setTimeout(r, 5))
        running.delete(id)
        return bytes
      })
    const sizes = [60, 60, 30, 250]
    expect(await Promise.all(sizes.map((b, i) => work(i, b)))).toEqual(sizes)
    for (const together of seen) {
      const bytes = together.reduce((n, id) => n + sizes[id], 0)
      // within budget, or one piece alone
      expect(bytes <= 100 || together.length === 1).toBe(true)
    }
    // the first 60 and the 30 ran together: the budget is used, not just a queue
    expect(seen.some((t) => t.length === 2)).toBe(true)
  })
})
