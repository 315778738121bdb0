import { RequestLimit } from '../../src/net/request-limit'
import { RegistryClient } from '../../src/registry/client'
import { sha256Digest } from '../../src/formats/digest'
import { MEDIA_TYPES } from '../../src/registry/types'

/** A request the test answers when it chooses. */
function held(): { promise: Promise<string>; answer: (value: string) => void } {
  let answer!: (value: string) => void
  const promise = new Promise<string>((resolve) => (answer = resolve))
  return { promise, answer }
}

const tick = async (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('RequestLimit', () => {
  it('sends no more than the limit at once, and the rest as answers come', async () => {
    const limit = new RequestLimit({ initial: 2, min: 1, max: 2 })
    const requests = [held(), held(), held(), held()]
    const sent: number[] = []
    const runs = requests.map((r, i) =>
      limit.run({ limited: true }, async () => {
        sent.push(i)
        return r.promise
      }),
    )
    await tick()
    expect(sent).toEqual([0, 1])
    expect(limit.waiting).toBe(2)
    requests[1].answer('b')
    await tick()
    expect(sent).toEqual([0, 1, 2])
    for (const r of requests) r.answer('x')
    expect(await Promise.all(runs)).toEqual(['x', 'b', 'x', 'x'])
    expect(limit.waiting).toBe(0)
  })

  it("sends a waiting urgent write (a tag's) before those that waited longer", async () => {
    const limit = new RequestLimit({ initial: 1, min: 1, max: 1 })
    const first = held()
    const order: string[] = []
    const run = (name: string, urgent: boolean, answer: Promise<string> = Promise.resolve(name)) =>
      limit.run({ limited: true, urgent }, async () => {
        order.push(name)
        return answer
      })
    const runs = [
      run('first', false, first.promise),
      run('upload 1', false),
      run('upload 2', false),
      run('tag write', true),
    ]
    await tick()
    first.answer('first')
    await Promise.all(runs)
    expect(order).toEqual(['first', 'tag write', 'upload 1', 'upload 2'])
  })

  it('goes down while answers queue (over twice the fastest), and back up when they do not', async () => {
    let clock = 0
    const limit = new RequestLimit({ initial: 10, min: 4, max: 12, now: () => clock })
    const answerAfter = async (ms: number, timed = true): Promise<void> => {
      await limit.run({ limited: true, timed }, async () => {
        clock += ms
        return undefined
      })
    }
    await answerAfter(2) // the fastest answer: 2 ms
    expect(limit.limit).toBe(11)
    await answerAfter(9) // within twice the fastest and the slack: no queue
    expect(limit.limit).toBe(12)
    await answerAfter(12) // beyond 2 * 2 + 5: queued behind others
    expect(limit.limit).toBe(11)
    for (let i = 0; i < 20; i++) await answerAfter(40)
    expect(limit.limit).toBe(4) // never below min
    await answerAfter(400, false) // a large upload's time is not timed
    expect(limit.limit).toBe(4)
    for (let i = 0; i < 20; i++) await answerAfter(3)
    expect(limit.limit).toBe(12) // never above max
  })

  it("never holds a read, and judges writes by the fastest answer, a read's included", async () => {
    let clock = 0
    const limit = new RequestLimit({ initial: 1, min: 1, max: 4, now: () => clock })
    const write = held()
    const writing = limit.run({ limited: true }, async () => write.promise)
    // The one slot is taken; a read goes at once, and its 2 ms is the fastest answer.
    const read = await limit.run({ timed: true }, async () => {
      clock += 2
      return 'read'
    })
    expect(read).toBe('read')
    expect(limit.limit).toBe(2)
    write.answer('written')
    await writing
    await limit.run({ limited: true, timed: true }, async () => {
      clock += 30 // a write fifteen times slower than the read: queued
      return undefined
    })
    expect(limit.limit).toBe(1)
  })

  it('lets more requests go as soon as the limit rises', async () => {
    let clock = 0
    const limit = new RequestLimit({ initial: 1, min: 1, max: 3, now: () => clock })
    const first = held()
    const sent: number[] = []
    const runs = [0, 1, 2].map((i) =>
      limit.run({ limited: true, timed: true }, async () => {
        sent.push(i)
        if (i === 0) return first.promise
        return 'later'
      }),
    )
    await tick()
    expect(sent).toEqual([0])
    clock = 1
    first.answer('first') // fast: the limit goes to 2, and both waiting requests get a slot in turn
    await Promise.all(runs)
    expect(sent).toEqual([0, 1, 2])
  })
})

describe('RegistryClient and RequestLimit', () => {
  it("sends a registry's tag requests before the manifests waiting for it", async () => {
    const answers: (() => void)[] = []
    const sent: string[] = []
    const fetchStub = (async (input: URL | string, init?: RequestInit) => {
      sent.push(`${init?.method} ${new URL(String(input)).pathname}`)
      await new Promise<void>((resolve) => answers.push(resolve))
      return new Response(null, { status: 201 })
    }) as typeof fetch
    const client = new RegistryClient({ fetch: fetchStub, plainHttp: ['registry.test'] })
    const repo = { registry: 'registry.test', repository: 'app' }
    const manifest = (i: number): Buffer => Buffer.from(JSON.stringify({ schemaVersion: 2, i }))
    // Sixteen manifests fill the registry's first limit; two more wait, then a tag write comes.
    const byDigest = Array.from({ length: 18 }, (_, i) =>
      client.putManifest(repo, sha256Digest(manifest(i)), manifest(i), MEDIA_TYPES.ociManifest),
    )
    await tick()
    const tag = client.putManifest(repo, 'sha256-abc', manifest(99), MEDIA_TYPES.ociIndex)
    await tick()
    expect(sent).toHaveLength(16)
    answers.shift()?.()
    for (let i = 0; i < 5; i++) await tick()
    expect(sent[16]).toBe('PUT /v2/app/manifests/sha256-abc')
    while (sent.length < 19 || answers.length > 0) {
      answers.shift()?.()
      await tick()
    }
    await Promise.all([...byDigest, tag])
    expect(sent).toHaveLength(19)
  })
})
