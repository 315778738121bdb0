/**
 * The proxy rule (src/net/proxy.ts) against its judge: @actions/http-client's own getProxyUrl and
 * checkBypass, run on the same URLs and environments. Then what the rule adds: a refused
 * value names its variable, and no credential of a proxy URL reaches a message.
 */
import {
  bypassesProxy,
  describeProxy,
  proxyAuthorization,
  proxyConfigured,
  proxyFor,
  proxySecrets,
  type ProxyEnv,
} from '../../src/net/proxy'
import { describeRouting } from '../../src/net/route'
import { SignetError } from '../../src/errors'
// The runner's own rule. Its exports map has only an `import` condition (see jest.config.js), so
// the file is required by path; SWC turns it into CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const httpClient = require('../../node_modules/@actions/http-client/lib/proxy.js') as {
  getProxyUrl(url: URL): URL | undefined
  checkBypass(url: URL): boolean
}

const VARIABLES = [
  'https_proxy',
  'HTTPS_PROXY',
  'http_proxy',
  'HTTP_PROXY',
  'no_proxy',
  'NO_PROXY',
] as const

/** Runs http-client's functions with exactly `env` as the proxy variables of process.env. */
function withProcessEnv<T>(env: ProxyEnv, fn: () => T): T {
  const saved = Object.fromEntries(VARIABLES.map((v) => [v, process.env[v]]))
  try {
    for (const v of VARIABLES) {
      if (env[v] === undefined) delete process.env[v]
      else process.env[v] = env[v]
    }
    return fn()
  } finally {
    for (const v of VARIABLES) {
      if (saved[v] === undefined) delete process.env[v]
      else process.env[v] = saved[v]
    }
  }
}

const PROXIES: ProxyEnv = {
  HTTPS_PROXY: 'http://secure-proxy.corp:3128',
  HTTP_PROXY: 'http://plain-proxy.corp:8080',
}

const URLS = [
  'https://ghcr.io/v2/',
  'http://registry.corp:5000/v2/',
  'https://fulcio.sigstore.dev/api/v2/signingCert',
  'https://rekor.sigstore.dev',
  'https://a.b.example.com/x',
  'https://example.com/x',
  'https://notexample.com/x',
  'https://EXAMPLE.com:8443/x',
  'http://example.com/x',
  'http://localhost:5000/v2/',
  'http://LOCALHOST:5000/v2/',
  'http://127.0.0.1:5000/v2/',
  'http://127.1.2.3/',
  'http://[::1]:5000/v2/',
  'http://[0:0:0:0:0:0:0:1]/',
  'http://localhost.corp/',
  'http://192.0.2.2:4000/',
  'https://[2001:db8::1]:8443/',
  'http://10.0.0.1/',
]

const ENVIRONMENTS: [string, ProxyEnv][] = [
  ['no variable', {}],
  ['both proxies', PROXIES],
  ['only HTTPS_PROXY', { HTTPS_PROXY: PROXIES.HTTPS_PROXY }],
  ['only HTTP_PROXY', { HTTP_PROXY: PROXIES.HTTP_PROXY }],
  [
    'lower case before upper case',
    { ...PROXIES, https_proxy: 'http://lower:1', http_proxy: 'http://lower:2' },
  ],
  ['an empty lower-case variable', { ...PROXIES, https_proxy: '' }],
  ['NO_PROXY a domain', { ...PROXIES, NO_PROXY: 'example.com' }],
  ['NO_PROXY a dotted domain', { ...PROXIES, NO_PROXY: '.example.com' }],
  ['NO_PROXY host:port', { ...PROXIES, NO_PROXY: 'example.com:8443, registry.corp:5000' }],
  ['NO_PROXY with spaces and case', { ...PROXIES, NO_PROXY: '  GHCR.IO ,, Sigstore.Dev ' }],
  ['NO_PROXY *', { ...PROXIES, NO_PROXY: '*' }],
  ['no_proxy before NO_PROXY', { ...PROXIES, no_proxy: 'ghcr.io', NO_PROXY: '*' }],
  ['NO_PROXY an address', { ...PROXIES, NO_PROXY: '192.0.2.2,[2001:db8::1]' }],
  ['NO_PROXY an address:port', { ...PROXIES, NO_PROXY: '192.0.2.2:4000' }],
  ['NO_PROXY without loopback', { ...PROXIES, NO_PROXY: 'nothing.example' }],
  ['a proxy URL with credentials', { HTTPS_PROXY: 'http://us%40er:p%3Ass@proxy.corp:3128' }],
  ['an https proxy', { HTTPS_PROXY: 'https://proxy.corp' }],
  ['a proxy as host:port (an address)', { HTTP_PROXY: '10.1.2.3:3128' }],
]

describe('the proxy each URL goes through, as @actions/http-client decides it', () => {
  it.each(ENVIRONMENTS)('%s', (_name, env) => {
    for (const url of URLS) {
      const target = new URL(url)
      const theirs = withProcessEnv(env, () => httpClient.getProxyUrl(target))
      const theirBypass = withProcessEnv(env, () => httpClient.checkBypass(target))
      // http-client's getAgentDispatcher proxies only when the proxy URL has a hostname.
      const expected = theirs?.hostname ? theirs.href : undefined
      expect({ url, proxy: proxyFor(target, env)?.href }).toEqual({ url, proxy: expected })
      expect({ url, bypass: bypassesProxy(target, env) }).toEqual({ url, bypass: theirBypass })
    }
  })
})

describe('the table above is not vacuous', () => {
  it('proxies by scheme, and bypasses by NO_PROXY', () => {
    expect(proxyFor(new URL('https://ghcr.io'), PROXIES)?.href).toBe(
      'http://secure-proxy.corp:3128/',
    )
    expect(proxyFor(new URL('http://registry.corp'), PROXIES)?.href).toBe(
      'http://plain-proxy.corp:8080/',
    )
    expect(proxyFor(new URL('http://127.0.0.1:5000'), PROXIES)).toBeUndefined()
    expect(
      proxyFor(new URL('https://a.ghcr.io'), { ...PROXIES, NO_PROXY: 'ghcr.io' }),
    ).toBeUndefined()
  })
})

describe('beyond http-client', () => {
  it('reads a host:port proxy as http://host:port (http-client takes the name as a scheme)', () => {
    const proxy = proxyFor(new URL('https://ghcr.io'), { HTTPS_PROXY: 'proxy.corp:3128' })
    expect(proxy?.href).toBe('http://proxy.corp:3128/')
  })

  it.each([
    [
      'socks5://user:hunter22@proxy.corp:1080',
      /HTTPS_PROXY is not a proxy URL \(socks5:\/\/proxy\.corp:1080\)/,
    ],
    ['http://[not an address', /HTTPS_PROXY is not a proxy URL \(it does not parse\)/],
  ])('refuses %s, naming the variable and not the password', (value, message) => {
    let error: unknown
    try {
      proxyFor(new URL('https://ghcr.io'), { HTTPS_PROXY: value })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(SignetError)
    expect((error as SignetError).message).toMatch(message)
    expect((error as SignetError).message).not.toContain('hunter22')
  })

  it('needs no proxy machinery without a proxy variable', () => {
    expect(proxyConfigured({})).toBe(false)
    expect(proxyConfigured({ NO_PROXY: '*', HTTPS_PROXY: '' })).toBe(false)
    expect(proxyConfigured({ http_proxy: 'http://p:1' })).toBe(true)
    expect(proxyConfigured({ HTTPS_PROXY: 'http://p:1' })).toBe(true)
  })

  it('sends credentials as http-client does, decoded, and never shows them', () => {
    const proxy = proxyFor(new URL('https://ghcr.io'), {
      HTTPS_PROXY: 'http://us%40er:p%3Ass%20w@proxy.corp:3128',
    })!
    expect(proxyAuthorization(proxy)).toBe(
      `Basic ${Buffer.from('us@er:p:ss w').toString('base64')}`,
    )
    expect(proxyAuthorization(new URL('http://proxy.corp:3128'))).toBeUndefined()
    expect(describeProxy(proxy)).toBe('http://proxy.corp:3128')
    const env = {
      HTTPS_PROXY: 'http://us%40er:p%3Ass%20w@proxy.corp:3128',
      http_proxy: 'plain:hunter22@proxy.corp:8080',
      NO_PROXY: 'ghcr.io',
    }
    const line = describeRouting(env)
    expect(line).toBe(
      'Proxy: https:// through http://proxy.corp:3128 (HTTPS_PROXY); ' +
        'http:// through http://proxy.corp:8080 (http_proxy); ' +
        'direct: loopback hosts and NO_PROXY (ghcr.io)',
    )
    expect(proxySecrets(env)).toEqual(
      expect.arrayContaining([
        'p%3Ass%20w',
        'p:ss w',
        'us@er:p:ss w',
        'hunter22',
        'plain:hunter22',
      ]),
    )
    for (const secret of proxySecrets(env)) expect(line).not.toContain(secret)
  })
})
