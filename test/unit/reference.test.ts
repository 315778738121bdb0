import { isDigest, parseImageReference, validateDigest } from '../../src/registry/reference'
import { errorOf } from '../infra/expect'

const D = `sha256:${'a'.repeat(64)}`

describe('parseImageReference', () => {
  it.each([
    // text, registry, repository, tag, digest, name
    [
      'alpine',
      'registry-1.docker.io',
      'library/alpine',
      undefined,
      undefined,
      'index.docker.io/library/alpine',
    ],
    [
      'alpine:3.20',
      'registry-1.docker.io',
      'library/alpine',
      '3.20',
      undefined,
      'index.docker.io/library/alpine',
    ],
    [
      'docker.io/alpine',
      'registry-1.docker.io',
      'library/alpine',
      undefined,
      undefined,
      'index.docker.io/library/alpine',
    ],
    [
      'index.docker.io/library/alpine',
      'registry-1.docker.io',
      'library/alpine',
      undefined,
      undefined,
      'index.docker.io/library/alpine',
    ],
    [
      'acme/app:v1',
      'registry-1.docker.io',
      'acme/app',
      'v1',
      undefined,
      'index.docker.io/acme/app',
    ],
    ['ghcr.io/acme/app:v1', 'ghcr.io', 'acme/app', 'v1', undefined, 'ghcr.io/acme/app'],
    [`ghcr.io/acme/app@${D}`, 'ghcr.io', 'acme/app', undefined, D, 'ghcr.io/acme/app'],
    [`ghcr.io/acme/app:v1@${D}`, 'ghcr.io', 'acme/app', 'v1', D, 'ghcr.io/acme/app'],
    ['localhost/app', 'localhost', 'app', undefined, undefined, 'localhost/app'],
    [
      'localhost:5000/a/b/c:latest',
      'localhost:5000',
      'a/b/c',
      'latest',
      undefined,
      'localhost:5000/a/b/c',
    ],
    ['127.0.0.1:5000/app', '127.0.0.1:5000', 'app', undefined, undefined, '127.0.0.1:5000/app'],
    [
      'myhost/app',
      'registry-1.docker.io',
      'myhost/app',
      undefined,
      undefined,
      'index.docker.io/myhost/app',
    ],
    ['GHCR.IO/acme/app', 'ghcr.io', 'acme/app', undefined, undefined, 'ghcr.io/acme/app'],
    [
      '  ghcr.io/a/b_c.d--e__f  ',
      'ghcr.io',
      'a/b_c.d--e__f',
      undefined,
      undefined,
      'ghcr.io/a/b_c.d--e__f',
    ],
    ['[::1]:5000/app', '[::1]:5000', 'app', undefined, undefined, '[::1]:5000/app'],
  ])('%s', (text, registry, repository, tag, digest, name) => {
    const ref = parseImageReference(text)
    expect(ref.registry).toBe(registry)
    expect(ref.repository).toBe(repository)
    expect(ref.tag).toBe(tag)
    expect(ref.digest).toBe(digest)
    expect(ref.name).toBe(name)
    expect(ref.toString()).toBe(`${name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`)
  })

  it('keeps the registry as written in domain', () => {
    expect(parseImageReference('alpine').domain).toBe('docker.io')
    expect(parseImageReference('ghcr.io/a/b').domain).toBe('ghcr.io')
  })

  it('accepts sha512 digests', () => {
    const d = `sha512:${'b'.repeat(128)}`
    expect(parseImageReference(`ghcr.io/a/b@${d}`).digest).toBe(d)
  })

  it.each([
    ['', 'empty'],
    ['Acme/App', 'lowercase'],
    ['ghcr.io/Acme/app', 'lowercase'],
    ['https://ghcr.io/a/b', 'scheme'],
    ['ghcr.io/a/b:', 'tag'],
    ['ghcr.io/a/b:-x', 'tag'],
    [`ghcr.io/a/b:${'x'.repeat(129)}`, 'tag'],
    ['ghcr.io//b', 'empty component'],
    ['ghcr.io/a/-b', 'path component'],
    ['ghcr.io/a b', 'whitespace'],
    ['ghcr.io/', 'empty component'],
    [`ghcr.io/${'a'.repeat(260)}`, 'longer'],
    ['bad_host.io/a', 'registry host'],
  ])('rejects %j (%s) with IMAGE_REFERENCE_INVALID naming the input', (text, why) => {
    const err = errorOf(() => parseImageReference(text, 'subject'))
    expect(err.code).toBe('IMAGE_REFERENCE_INVALID')
    expect(err.input).toBe('subject')
    expect(err.message).toMatch(/^subject: /)
    expect(err.message).toContain(why)
    expect(err.message).toContain('[registry/]repository')
  })

  it.each([
    'ghcr.io/a/b@sha256:abc',
    `ghcr.io/a/b@sha256:${'A'.repeat(64)}`,
    `ghcr.io/a/b@sha512:${'a'.repeat(64)}`,
    `ghcr.io/a/b@md5:${'a'.repeat(32)}`,
    'ghcr.io/a/b@latest',
  ])('rejects %s with DIGEST_INVALID', (text) => {
    const err = errorOf(() => parseImageReference(text))
    expect(err.code).toBe('DIGEST_INVALID')
    expect(err.input).toBe('images')
    expect(err.message).toContain(text)
  })
})

describe('digests', () => {
  it('isDigest', () => {
    expect(isDigest(D)).toBe(true)
    expect(isDigest(`sha512:${'0'.repeat(128)}`)).toBe(true)
    expect(isDigest(`sha256:${'0'.repeat(63)}`)).toBe(false)
    expect(isDigest(`sha256:${'0'.repeat(65)}`)).toBe(false)
    expect(isDigest(`sha384:${'0'.repeat(96)}`)).toBe(false)
    expect(isDigest('nonsense')).toBe(false)
  })

  it('validateDigest returns a good digest and names the input for a bad one', () => {
    expect(validateDigest(D, 'digest')).toBe(D)
    const err = errorOf(() => validateDigest('sha256:xyz', 'digest'))
    expect(err.code).toBe('DIGEST_INVALID')
    expect(err.input).toBe('digest')
    expect(err.message).toContain('64 lowercase hex')
  })
})
