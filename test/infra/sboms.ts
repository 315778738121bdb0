/** Small SBOMs shaped as syft writes them, for attestation tests. */

export const CYCLONEDX = {
  bomFormat: 'CycloneDX',
  specVersion: '1.5',
  serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79',
  version: 1,
  metadata: { component: { type: 'container', name: 'acme/app', version: 'sha256:abc' } },
  components: [
    { type: 'library', name: 'openssl', version: '3.0.13', purl: 'pkg:deb/debian/openssl@3.0.13' },
    { type: 'library', name: 'zlib', version: '1.2.13', purl: 'pkg:deb/debian/zlib@1.2.13' },
  ],
}

export const SPDX = {
  spdxVersion: 'SPDX-2.3',
  dataLicense: 'CC0-1.0',
  SPDXID: 'SPDXRef-DOCUMENT',
  name: 'acme/app',
  documentNamespace: 'https://anchore.com/syft/image/acme-app-1',
  creationInfo: { created: '2026-11-21T00:00:00Z', creators: ['Tool: syft-1.20.0'] },
  packages: [
    {
      SPDXID: 'SPDXRef-Package-openssl',
      name: 'openssl',
      versionInfo: '3.0.13',
      downloadLocation: 'NOASSERTION',
    },
  ],
}
