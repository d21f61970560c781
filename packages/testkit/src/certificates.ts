import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface TestCertificate {
  /** PEM. */
  cert: string;
  /** PEM (PKCS#8). */
  key: string;
}

/** How long test certificates are valid: the length of any test run, with margin. */
const TEST_CERTIFICATE_DAYS = 7;

/**
 * A TLS server certificate for test servers: a self-signed leaf (`CA:FALSE`, serverAuth) by
 * default, or, with `issuer`, one signed by that certificate's key, e.g. to check that a leaf
 * cannot vouch for another host, or by a CA of `testCa`. Hosts are DNS names or IP addresses.
 * Each gets a subject of its own: OpenSSL finds a trusted certificate by subject, so two
 * certificates with one subject would shadow each other.
 */
export async function testCertificate(
  hosts: readonly string[],
  options: { issuer?: TestCertificate } = {},
): Promise<TestCertificate> {
  const pems = await generate(
    [{ name: 'commonName', value: `nanobill-test-${randomBytes(4).toString('hex')}` }],
    {
      keyType: 'ec',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + TEST_CERTIFICATE_DAYS * 86_400_000),
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: hosts.map(altName) },
      ],
      ...(options.issuer ? { ca: options.issuer } : {}),
    },
  );
  return { cert: pems.cert, key: pems.private };
}

/** A certificate authority (`CA:TRUE`, keyCertSign) for `testCertificate`'s `issuer`. */
export async function testCa(): Promise<TestCertificate> {
  const pems = await generate(
    [{ name: 'commonName', value: `nanobill-test-ca-${randomBytes(4).toString('hex')}` }],
    {
      keyType: 'ec',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + TEST_CERTIFICATE_DAYS * 86_400_000),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    },
  );
  return { cert: pems.cert, key: pems.private };
}

function altName(host: string) {
  return isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host };
}
