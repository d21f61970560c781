import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouse, type ClickHouseClient } from '@nanobill/clickhouse';
import { queryValue, testClickHouse } from '@nanobill/testkit';
import {
  generateSecretsKey,
  parseSecretsKey,
  SecretsCipher,
  MAX_ROTATIONS_PER_HOUR,
  RotationLimitError,
  SecretUnreadableError,
  WebhookSecretStore,
} from '../src/index.js';

const HOUR_MS = 60 * 60_000;

describe('WebhookSecretStore (real ClickHouse)', () => {
  let ch: Awaited<ReturnType<typeof testClickHouse>>;
  let second: ClickHouseClient;
  const cipher = new SecretsCipher(parseSecretsKey(generateSecretsKey()));
  let clock = new Date('2026-11-05T10:00:00.000Z');
  const now = () => clock;
  const store = (client?: ClickHouseClient, cacheMs = 0) =>
    new WebhookSecretStore(client ?? ch.client, cipher, { now, cacheMs });

  beforeAll(async () => {
    ch = await testClickHouse();
    // A second connection: two writers, as two processes would be.
    second = openClickHouse({ dataDir: ch.dataDir });
  });

  afterAll(async () => {
    await second?.close();
    await ch?.client.close();
  });

  it('makes a secret on first use; writers racing settle on one, shown to one of them only', async () => {
    const writers = [store(), store(second), store(), store(second), store(), store(second)];
    const results = await Promise.all(writers.map((w) => w.ensure('race-org')));
    expect(new Set(results.map((r) => r.secret)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    // Everyone signs with it from now on, and the table holds it sealed only.
    for (const w of writers)
      expect(await w.signingSecrets('race-org')).toEqual([results[0]!.secret]);
    const sealed = await queryValue<string[]>(
      ch.client,
      "SELECT groupArray(sealed) FROM billing.webhook_secrets WHERE account_id = 'race-org'",
    );
    expect(sealed.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(sealed)).not.toContain(results[0]!.secret.slice(8));
  });

  it('signing for an account without a secret makes one nobody has seen', async () => {
    expect(await store().read('quiet-org')).toBeUndefined();
    const [secret] = await store().signingSecrets('quiet-org');
    expect(secret).toMatch(/^nbwhsec_/);
    expect((await store().ensure('quiet-org')).created).toBe(false);
  });

  it('keeps the previous secret valid during the overlap only, the new one first', async () => {
    const { secret: first } = await store().ensure('rot-org');
    clock = new Date(clock.getTime() + HOUR_MS);
    const rotated = await store().rotate('rot-org', 24 * HOUR_MS);
    expect(rotated.previousValidUntil).toEqual(new Date(clock.getTime() + 24 * HOUR_MS));
    expect(await store().signingSecrets('rot-org')).toEqual([rotated.secret, first]);

    clock = new Date(clock.getTime() + 24 * HOUR_MS - 1);
    expect(await store().signingSecrets('rot-org')).toEqual([rotated.secret, first]);
    clock = new Date(clock.getTime() + 1);
    expect(await store().signingSecrets('rot-org')).toEqual([rotated.secret]);

    // Two rotations in a row: only the secret just before stays valid.
    const again = await store().rotate('rot-org', HOUR_MS);
    const third = await store().rotate('rot-org', HOUR_MS);
    expect(await store().signingSecrets('rot-org')).toEqual([third.secret, again.secret]);
    // No overlap: the previous one ends at once.
    const cut = await store().rotate('rot-org', 0);
    expect(cut.previousValidUntil).toBeNull();
    expect(await store().signingSecrets('rot-org')).toEqual([cut.secret]);
  });

  it('concurrent rotations each end with a secret in force, one after the other', async () => {
    await store().ensure('busy-org');
    const rotations = await Promise.all(
      [store(), store(second), store()].map((w) => w.rotate('busy-org', HOUR_MS)),
    );
    const current = (await store().read('busy-org'))!;
    expect(current.current.version).toBe(4);
    expect(rotations.map((r) => r.secret)).toContain(current.current.secret);
    expect(new Set(rotations.map((r) => r.secret)).size).toBe(3);
  });

  it('bounds rotations per account and hour, and reads two versions whatever the history', async () => {
    const account = 'rotating-org';
    for (let i = 0; i < MAX_ROTATIONS_PER_HOUR; i++) await store().rotate(account, HOUR_MS);
    await expect(store().rotate(account, HOUR_MS)).rejects.toThrow(RotationLimitError);
    // Another account is not held back by this one.
    await expect(store().rotate('quiet-org', HOUR_MS)).resolves.toBeDefined();
    // A long history (rows of earlier hours) is never read whole: the newest two versions are.
    await ch.client.command({
      query: `INSERT INTO billing.webhook_secrets (account_id, version, secret_id, sealed, created_at, inserted_at)
              SELECT 'long-history', number + 1, toString(number), 'unreadable', now64(3),
                     now64(6) - INTERVAL 2 HOUR FROM numbers(50000)`,
    });
    const rotated = await store().rotate('long-history', 0);
    const current = (await store().read('long-history'))!;
    expect(current.current.version).toBe(50_001);
    expect(current.current.secret).toBe(rotated.secret);
  });

  it('caches per account for cacheMs: a rotation applies within that time', async () => {
    const cached = store(ch.client, 30_000);
    const before = await cached.signingSecrets('cache-org');
    const rotated = await store().rotate('cache-org', 0);
    expect(await cached.signingSecrets('cache-org')).toEqual(before);
    clock = new Date(clock.getTime() + 30_000);
    expect(await cached.signingSecrets('cache-org')).toEqual([rotated.secret]);
    // An overlap that ends before the cache would: the previous secret stops at its end.
    clock = new Date(clock.getTime() + 30_000); // the cache above has expired
    const short = await store().rotate('cache-org', 10_000);
    expect(await cached.signingSecrets('cache-org')).toEqual([short.secret, rotated.secret]);
    clock = new Date(clock.getTime() + 10_000);
    expect(await cached.signingSecrets('cache-org')).toEqual([short.secret]);
  });

  it('keeps accounts apart, whatever their ids', async () => {
    const ids = ['a', 'a\u0000', 'A', ' a', 'é'.repeat(100)];
    const secrets = await Promise.all(ids.map(async (id) => (await store().ensure(id)).secret));
    expect(new Set(secrets).size).toBe(ids.length);
  });

  it('says so, instead of signing with garbage, when the key is not the one used', async () => {
    await store().ensure('key-org');
    const wrongKey = new SecretsCipher(parseSecretsKey(generateSecretsKey()));
    const other = new WebhookSecretStore(ch.client, wrongKey, { now, cacheMs: 0 });
    await expect(other.signingSecrets('key-org')).rejects.toThrow(SecretUnreadableError);
    // A sealed value copied onto another account's row does not open there.
    await ch.client.command({
      query: `INSERT INTO billing.webhook_secrets (account_id, version, secret_id, sealed, created_at)
              SELECT 'thief-org', version, secret_id, sealed, created_at
              FROM billing.webhook_secrets WHERE account_id = 'key-org'`,
    });
    await expect(store().signingSecrets('thief-org')).rejects.toThrow(SecretUnreadableError);
  });

  it("a new secrets key takes over by rotating: the old key's secret does not overlap", async () => {
    const { secret: old } = await store().ensure('rekey-org');
    const newKey = new SecretsCipher(parseSecretsKey(generateSecretsKey()));
    const renewed = new WebhookSecretStore(ch.client, newKey, { now, cacheMs: 0 });
    await expect(renewed.signingSecrets('rekey-org')).rejects.toThrow(SecretUnreadableError);
    const rotated = await renewed.rotate('rekey-org', HOUR_MS);
    expect(await renewed.signingSecrets('rekey-org')).toEqual([rotated.secret]);
    expect(rotated.secret).not.toBe(old);
  });

  it('refuses overlaps out of range', async () => {
    for (const overlap of [-1, 1.5, 31 * 24 * HOUR_MS, Number.NaN]) {
      await expect(store().rotate('x-org', overlap)).rejects.toThrow(RangeError);
    }
  });
});
