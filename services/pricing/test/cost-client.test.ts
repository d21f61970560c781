import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { REDACTED_PATHS } from '@nanobill/observability';
import { parseProviders } from '@nanobill/providers';
import { startProviderSimulator } from '@nanobill/provider-simulator';
import { CostClient } from '../src/cost-client.js';

describe('CostClient', async () => {
  const simulator = await startProviderSimulator({
    providers: { acme: { token: 'the-real-token' } },
  });
  let redirectTargetHit = false;
  const redirecting = createServer((request, response) => {
    if (request.url === '/elsewhere') redirectTargetHit = true;
    response.writeHead(302, { location: '/elsewhere' }).end();
  });
  await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
  const port = (redirecting.address() as { port: number }).port;
  afterAll(async () => {
    await simulator.close();
    redirecting.close();
  });
  const client = (costUrl: string, token: string) => {
    process.env.ACME_COST_TOKEN = token;
    const provider = parseProviders({
      acme: { costUrl, tokenEnv: 'ACME_COST_TOKEN', timeoutMs: 1_000 },
    }).remote.get('acme')!;
    return new CostClient(provider);
  };

  it('asks for costs with the bearer token and returns the parsed answer', async () => {
    const outcome = await client(simulator.costUrl('acme'), 'the-real-token').ask(['a', 'b']);
    expect(outcome.outcome).toBe('ok');
  });

  it('reports a wrong token as unauthorized, without the token in the outcome', async () => {
    const outcome = await client(simulator.costUrl('acme'), 'a-wrong-token').ask(['a']);
    expect(outcome).toEqual({ outcome: 'unauthorized', detail: 'HTTP 401' });
    expect(JSON.stringify(outcome)).not.toContain('a-wrong-token');
  });

  it('does not follow redirects: the request goes to the configured origin only', async () => {
    const outcome = await client(`http://127.0.0.1:${port}/costs`, 'the-real-token').ask(['a']);
    expect(outcome).toEqual({ outcome: 'client_error', detail: 'HTTP 302' });
    expect(redirectTargetHit).toBe(false);
  });

  it('a missing token is an outcome naming the variable, not an exception', async () => {
    delete process.env.ACME_COST_TOKEN;
    const provider = parseProviders({
      acme: { costUrl: simulator.costUrl('acme'), tokenEnv: 'ACME_COST_TOKEN' },
    }).remote.get('acme')!;
    expect(await new CostClient(provider).ask(['a'])).toEqual({
      outcome: 'no_token',
      detail: 'the token of acme is missing: set ACME_COST_TOKEN',
    });
  });

  it('the logger redacts tokens and authorization headers', () => {
    let written = '';
    const sink = new Writable({
      write: (chunk, _encoding, done) => ((written += String(chunk)), done()),
    });
    const logger = pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
    logger.info(
      { token: 'the-real-token', request: { headers: { authorization: 'Bearer the-real-token' } } },
      'call',
    );
    expect(written).toContain('[redacted]');
    expect(written).not.toContain('the-real-token');
  });
});
