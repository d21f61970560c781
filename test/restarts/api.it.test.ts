import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '@nanobill/api';
import { loadConfig } from '@nanobill/config';
import type { AccountStatus } from '@nanobill/contract';
import { createProducer, ensureTopics } from '@nanobill/kafka';
import {
  quietLogger,
  tempDir,
  testBrokers,
  testKafka,
  uniqueName,
  waitFor,
} from '@nanobill/testkit';
import { startPipeline, type Pipeline } from '@nanobill/pipeline';

// Restarts (issue 13): the api service (as `nanobill run --only api` composes it, reading an
// account-status topic of the test's own) restarted while an account is blocked, the status of
// many other accounts on the topic as in a real deployment (its view rereads them all at each
// start). From its first answer on, the router must never be told `ok` (404) for that account:
// the API answers `blocked`, or is not ready (503) while its view catches up; once /readyz says
// ready, it answers `blocked`.

const SAMPLES_READY = 20;
/** Other accounts' statuses on the topic (issue 12 tests a rollover with 20,000 accounts). */
const OTHER_ACCOUNTS = 30_000;

describe('restarts: api', () => {
  const dataDir = tempDir('nanobill-restarts-api-');
  let pipeline: Pipeline | undefined;
  afterAll(async () => {
    await pipeline?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const topic = uniqueName('restarts-api-status');
  /**
   * The first start binds port 0 (the system picks free ones); the restart reuses them, since the
   * test asks from the moment the API listens, before the start returns.
   */
  const ports = { api: 0, ops: 0 };
  const start = async () =>
    startPipeline({
      overrides: { topics: { accountStatus: topic } },
      config: loadConfig({
        KAFKA_BROKERS: testBrokers().join(','),
        NANOBILL_DATA_DIR: dataDir,
        PORT: String(ports.api),
        NANOBILL_OPS_PORT: String(ports.ops),
      }),
      logger: quietLogger(),
      only: ['api'],
    });

  it('restarted while an account is blocked: never answers ok for it', async () => {
    const kafka = testKafka();
    await ensureTopics(kafka, [
      { topic, numPartitions: 2, configs: { 'cleanup.policy': 'compact' } },
    ]);
    pipeline = await start();
    ports.api = pipeline.ports.api!;
    ports.ops = pipeline.ports.ops;
    const { token } = await createToken(pipeline.reader, { kind: 'router' });
    const account = uniqueName('restarts-blocked-org');
    const now = new Date();
    const blocked: AccountStatus = {
      schemaVersion: 1,
      accountId: account,
      kind: 'org',
      plan: 'team',
      month: now.toISOString().slice(0, 7),
      status: 'blocked',
      reason: 'Month-to-date spend $1.000000000 reached the spending limit of $1.000000000',
      basis: 'spending_limit',
      spendNanoUsd: '1000000000',
      pricedNanoUsd: '1000000000',
      estimatedNanoUsd: '0',
      limitNanoUsd: '1000000000',
      disabledProviders: [],
      updatedAt: now.toISOString(),
    };
    const others = Array.from({ length: OTHER_ACCOUNTS }, (_, i) => {
      const accountId = `${account}-other-${i}`;
      return { key: accountId, value: JSON.stringify({ ...blocked, accountId, status: 'ok' }) };
    });
    // The blocked account in the middle of the topic, not first nor last; in sends well under
    // the broker's 1 MiB batch limit.
    const messages = [
      ...others.slice(0, OTHER_ACCOUNTS / 2),
      { key: account, value: JSON.stringify(blocked) },
      ...others.slice(OTHER_ACCOUNTS / 2),
    ];
    const producer = createProducer(kafka);
    await producer.connect();
    for (let i = 0; i < messages.length; i += 1_000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1_000) });
    }
    await producer.disconnect();
    const ask = async () => {
      const response = await fetch(
        `http://127.0.0.1:${ports.api}/v1/accounts/${encodeURIComponent(account)}/status`,
        { headers: { authorization: `Bearer ${token}` } },
      );
      const body = (await response.json().catch(() => undefined)) as
        { status?: string | null } | undefined;
      return response.status === 200 ? (body?.status ?? 'none') : String(response.status);
    };
    await waitFor('the API to see the account blocked', async () =>
      (await ask()) === 'blocked' ? true : undefined,
    );

    await pipeline.stop();
    pipeline = undefined;
    const restarting = start();
    // Every answer from the first one on (none while nothing listens), with whether /readyz
    // said ready just before.
    const answers: Array<{ ready: boolean; answer: string }> = [];
    let started = false;
    void restarting.then(() => (started = true)).catch(() => undefined);
    await waitFor(
      `${SAMPLES_READY} answers while ready`,
      async () => {
        const ready = await fetch(`http://127.0.0.1:${ports.ops}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        const answer = await ask().catch(() => undefined);
        if (answer !== undefined) answers.push({ ready, answer });
        return started && answers.filter((a) => a.ready).length >= SAMPLES_READY ? true : undefined;
      },
      60_000,
      1, // the window is tens of milliseconds wide
    );
    pipeline = await restarting;
    const said = (a: { ready: boolean; answer: string }) =>
      `${a.ready ? 'ready' : 'not ready'}: ${a.answer}`;
    console.log(
      `api restart: ${answers.length} answers; first ${said(answers[0]!)}; ` +
        `${answers.filter((a) => a.answer === '404').length} said ok (404)`,
    );
    expect(
      answers.filter((a) => a.answer === '404').map(said),
      'answers saying ok (404) for a blocked account',
    ).toEqual([]);
    expect(
      answers.filter((a) => a.ready && a.answer !== 'blocked').map(said),
      'answers while ready, other than blocked',
    ).toEqual([]);
  });
});
