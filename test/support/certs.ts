import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir, whenDone } from './temp';

/**
 * Certificates made for one test run: a private CA and a server certificate it signs for
 * `localhost` and 127.0.0.1, plus an unrelated CA that must not be trusted.
 */
export interface TestCertificates {
  readonly dir: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** A CA that did not sign the server certificate. */
  readonly otherCaPem: string;
  /** SHA-256 fingerprint of the server certificate, colon-separated hex as Node prints it. */
  readonly fingerprint256: string;
}

let cached: TestCertificates | undefined;

/**
 * Made once and cached: for one test file under jest (each file has its own module registry), for
 * the process elsewhere (benchmarks). The directory is removed, and the cache dropped, when that
 * test file is done or the process exits.
 */
export function makeTestCertificates(): TestCertificates {
  if (cached) return cached;
  const dir = tempDir('pop3-certs-');
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

  const makeCa = (name: string) =>
    openssl(
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650',
      '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ); // prettier-ignore
  makeCa('test-ca');
  makeCa('other-ca');
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
  );
  writeFileSync(
    file('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  openssl(
    'x509', '-req', '-in', file('server.csr'), '-CA', file('test-ca.pem'), '-CAkey', file('test-ca.key'),
    '-CAcreateserial', '-days', '3650', '-extfile', file('server.ext'), '-out', file('server.pem'),
  ); // prettier-ignore

  const certPem = readFileSync(file('server.pem'), 'utf8');
  cached = {
    dir,
    caPem: readFileSync(file('test-ca.pem'), 'utf8'),
    certPem,
    keyPem: readFileSync(file('server.key'), 'utf8'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    caFile: file('test-ca.pem'),
    otherCaPem: readFileSync(file('other-ca.pem'), 'utf8'),
    fingerprint256: new X509Certificate(certPem).fingerprint256,
  };
  return cached;
}

whenDone(() => {
  if (cached) removeDir(cached.dir);
  cached = undefined;
});
