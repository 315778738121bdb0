import {
  canonicalRegistryHost,
  isDigest,
  parseImageReference,
  policyRegistryName,
  validateDigest,
} from '../../src/registry/reference'
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

describe('issue 8.8: one name, one image', () => {
  it.each([
    'ghcr.io:443/acme/app',
    'GHCR.IO:443/acme/app',
    'ghcr.io:0443/acme/app',
    'Ghcr.Io/acme/app',
  ])('issue 8.8: %s is ghcr.io/acme/app, contacted at ghcr.io', (text) => {
    const ref = parseImageReference(`${text}:v1`)
    expect(ref.registry).toBe('ghcr.io')
    expect(ref.name).toBe('ghcr.io/acme/app')
    expect(ref.policyName).toBe('ghcr.io/acme/app')
    expect(ref.toString()).toBe('ghcr.io/acme/app:v1')
  })

  it.each([
    'x',
    'docker.io/x',
    'docker.io:443/x',
    'docker.io:443/library/x',
    'index.docker.io:443/x',
    'index.docker.io:443/library/x',
    'registry-1.docker.io:443/library/x',
    'registry-1.docker.io/x',
    'registry.hub.docker.com/x',
    'registry.hub.docker.com:443/library/x',
    'REGISTRY.HUB.DOCKER.COM/x',
    'docker.io:80/x',
  ])('issue 8.8: %s is Docker Hub’s index.docker.io/library/x', (text) => {
    const ref = parseImageReference(text)
    expect(ref.registry).toBe('registry-1.docker.io')
    expect(ref.domain).toBe('docker.io')
    expect(ref.repository).toBe('library/x')
    expect(ref.name).toBe('index.docker.io/library/x')
    expect(ref.policyName).toBe('index.docker.io/library/x')
  })

  it('issue 8.8: [::1]:443 is [::1], and hosts other than Hub’s keep their own name', () => {
    expect(parseImageReference('[::1]:443/app').name).toBe('[::1]/app')
    expect(parseImageReference('hub.docker.io/x/y').name).toBe('hub.docker.io/x/y')
    expect(parseImageReference('docker.io.evil.example/x/y').registry).toBe(
      'docker.io.evil.example',
    )
    expect(parseImageReference('docker.io:5000/x').name).toBe('docker.io:5000/x')
  })

  it('issue 8.8: host:80/x keeps its address but cannot leave a policy rule written for host/x', () => {
    const ref = parseImageReference('registry.example.com:80/team/app:v1')
    // BuildKit speaks https to port 80 unless the host is insecure: that is what is contacted.
    expect(ref.registry).toBe('registry.example.com:80')
    expect(ref.name).toBe('registry.example.com:80/team/app')
    // Policy rules match policyName, which has no default port.
    expect(ref.policyName).toBe('registry.example.com/team/app')
    expect(parseImageReference('registry.example.com:080/team/app').policyName).toBe(
      'registry.example.com/team/app',
    )
    // Any other port is another registry.
    expect(parseImageReference('registry.example.com:8080/team/app').policyName).toBe(
      'registry.example.com:8080/team/app',
    )
  })

  it('issue 8.8: a port that is not one is refused', () => {
    const err = errorOf(() => parseImageReference('ghcr.io:70000/a/b'))
    expect(err.code).toBe('IMAGE_REFERENCE_INVALID')
  })

  it.each([
    ['ghcr.io', 'ghcr.io', 'ghcr.io'],
    ['GHCR.io:443', 'ghcr.io', 'ghcr.io'],
    ['localhost:05000', 'localhost:5000', 'localhost:5000'],
    ['host:80', 'host:80', 'host'],
    ['[::1]:443', '[::1]', '[::1]'],
    ['docker.io:443', 'docker.io', 'index.docker.io'],
    ['registry.hub.docker.com', 'registry.hub.docker.com', 'index.docker.io'],
  ])('issue 8.8: host %s is %s to contact and %s to a policy', (host, canonical, policy) => {
    expect(canonicalRegistryHost(host)).toBe(canonical)
    expect(policyRegistryName(host)).toBe(policy)
  })
})
