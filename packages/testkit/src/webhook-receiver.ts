import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import {
  ALERT_ID_HEADER,
  ATTEMPT_HEADER,
  SIGNATURE_HEADER,
  verifyWebhook,
} from '@nanobill/webhooks';

export interface Received {
  alertId: string;
  attempt: number;
  /** The signature header verified against the raw body with the receiver's secrets, at arrival. */
  verified: boolean;
  /** The `nanobill-signature` header as received. */
  signature: string;
  answered: number;
  body: string;
  /** The request's path (and query). */
  path: string;
}

/**
 * An org's webhook receiver over HTTPS on 127.0.0.1 (self-signed: nanobill trusts it through
 * its extra CA, and reaches it only with 127.0.0.1/32 allowed), recording every request and
 * whether its signature verifies with the secrets it was given (`useSecrets` changes them, e.g.
 * once the account's secret is known). It answers `answer` (200 by default) and can go down
 * (port closed) and come back on the same port.
 */
export async function startReceiver(secrets: string | readonly string[] = []) {
  let verifyWith: readonly string[] = typeof secrets === 'string' ? [secrets] : [...secrets];
  // A subject of its own: OpenSSL finds a trusted certificate by subject, so two receivers
  // with the same one would shadow each other.
  const subject = `nanobill-test-receiver-${randomBytes(4).toString('hex')}`;
  const pems = await generate([{ name: 'commonName', value: subject }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const received: Received[] = [];
  let answer = 200;
  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({
        alertId: String(req.headers[ALERT_ID_HEADER]),
        attempt: Number(req.headers[ATTEMPT_HEADER]),
        verified: verifyWebhook({
          header: req.headers[SIGNATURE_HEADER],
          rawBody: body,
          secrets: verifyWith,
        }),
        signature: String(req.headers[SIGNATURE_HEADER]),
        path: req.url ?? '',
        answered: answer,
        body,
      });
      res.writeHead(answer, { 'content-type': 'text/plain' }).end();
    });
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  return {
    url: `https://127.0.0.1:${port}/hooks/nanobill`,
    ca: pems.cert,
    received,
    /** Requests answered 2xx, per alert id. */
    delivered(alertId: string): number {
      return received.filter((r) => r.alertId === alertId && r.answered < 300).length;
    },
    useSecrets(list: readonly string[]) {
      verifyWith = [...list];
    },
    answerWith(status: number) {
      answer = status;
    },
    async down() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
    async up() {
      await listen(port);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
