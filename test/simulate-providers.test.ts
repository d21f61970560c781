import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { trueCostNanoUsd, parseFaults } from '@nanobill/provider-simulator';
import { spawnTs, tempDir, waitFor, type ChildRun } from '@nanobill/testkit';

// `nanobill simulate providers` as its own process: the cost API and price lists of the
// providers file, the tokens pricing would send, faults from the environment, SIGTERM.

const NANOBILL = fileURLToPath(new URL('../cli/bin/nanobill.js', import.meta.url));
const dir = tempDir('nanobill-simulate-providers-');
const providersFile = join(dir, 'providers.json');
writeFileSync(join(dir, 'groq-token'), 'groq-secret-from-a-file\n');
writeFileSync(
  providersFile,
  JSON.stringify({
    cerebras: { costUrl: 'https://x.invalid/cost', tokenEnv: 'SIM_TEST_TOKEN_CEREBRAS' },
    groq: {
      costUrl: 'https://x.invalid/cost',
      tokenEnv: 'SIM_TEST_TOKEN_GROQ',
      tokenFile: join(dir, 'groq-token'),
    },
    together: { costUrl: 'https://x.invalid/cost', tokenEnv: 'SIM_TEST_TOKEN_TOGETHER' },
    'hf-inference': { hardware: { 'cpu-basic': '0.0000083' } },
  }),
);
const baseEnv: NodeJS.ProcessEnv = {
  ...process.env,
  NANOBILL_PROVIDERS_FILE: providersFile,
  SIM_TEST_TOKEN_CEREBRAS: 'cerebras-secret-from-the-env',
  SIM_TEST_TOKEN_GROQ: 'not-used-the-file-wins',
  SIM_TEST_TOKEN_TOGETHER: '',
};
delete baseEnv.NANOBILL_SIM_FAULTS;

const runs: ChildRun[] = [];
function nanobill(args: string[], env: NodeJS.ProcessEnv = baseEnv): ChildRun {
  const run = spawnTs(NANOBILL, env, args);
  runs.push(run);
  return run;
}
afterAll(() => {
  for (const { child } of runs) if (child.exitCode === null) child.kill('SIGKILL');
});

async function listening(run: ChildRun): Promise<string> {
  let out = '';
  run.child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return waitFor('the simulator to listen', async () => {
    if (run.child.exitCode !== null) throw new Error(`exited: ${(await run.exited).stderr}`);
    return /providers on (http:\/\/\S+)/.exec(out)?.[1];
  });
}

const cost = (url: string, provider: string, token: string, requestIds: string[]) =>
  fetch(`${url}/${provider}/cost`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ requestIds }),
  });

describe('nanobill simulate providers', () => {
  it('answers the cost API with the true costs, with the tokens pricing sends, faults from NANOBILL_SIM_FAULTS, until SIGTERM', async () => {
    const run = nanobill(['simulate', 'providers', '--port', '0'], {
      ...baseEnv,
      NANOBILL_SIM_FAULTS: JSON.stringify({
        '*': [{ kind: 'status', status: 503 }],
        groq: [],
      }),
    });
    const url = await listening(run);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // groq: its token file (not its variable), no fault (its own empty list replaces '*').
    const ids = ['req-a', 'req-b', 'req-c'];
    const answer = await cost(url, 'groq', 'groq-secret-from-a-file', ids);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      requests: ids.map((id) => ({
        requestId: id,
        costNanoUsd: Number(trueCostNanoUsd('groq', id)),
      })),
    });
    expect((await cost(url, 'groq', 'not-used-the-file-wins', ids)).status).toBe(401);
    // cerebras: its variable's token; the '*' fault.
    expect((await cost(url, 'cerebras', 'cerebras-secret-from-the-env', ids)).status).toBe(503);
    expect((await cost(url, 'cerebras', 'wrong', ids)).status).toBe(401);
    // together: no token configured, so the simulator's default one.
    expect((await cost(url, 'together', 'sim-token-together', ids)).status).toBe(503);
    // hf-inference is priced by nanobill itself: no endpoint.
    expect((await cost(url, 'hf-inference', 'x', ids)).status).toBe(404);

    const models = await fetch(`${url}/groq/v1/models`, {
      headers: { authorization: 'Bearer groq-secret-from-a-file' },
    });
    expect(models.status).toBe(200);
    const list = (await models.json()) as { data: { id: string; pricing: object }[] };
    expect(list.data.length).toBeGreaterThan(0);
    for (const model of list.data) expect(model.pricing).toHaveProperty('input');

    run.child.kill('SIGTERM');
    const { code, stdout } = await run.exited;
    expect(code).toBe(0);
    expect(stdout).toContain('faults cerebras: status, together: status');
    expect(stdout).toContain('no token configured for together');
    expect(stdout).not.toContain('secret');
    expect(stdout).toContain('provider simulator: stopped (SIGTERM)');
  });

  it('refuses a fault specification it cannot apply (exit 2, the reason named)', async () => {
    const unknown = await nanobill([
      'simulate',
      'providers',
      '--port',
      '0',
      '--faults',
      '{"nope": []}',
    ]).exited;
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown provider nope');
    const invalid = await nanobill([
      'simulate',
      'providers',
      '--port',
      '0',
      '--faults',
      '{"groq": [{"kind": "drop-ids", "share": 2}]}',
    ]).exited;
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('invalid drop-ids fault: share');
  });
});

describe('parseFaults', () => {
  const providers = ['groq', 'together'];

  it('applies "*" to every provider; a provider’s own list replaces it', () => {
    const faults = parseFaults(
      JSON.stringify({ '*': [{ kind: 'timeout' }], together: [{ kind: 'slow', delayMs: 5 }] }),
      providers,
    );
    expect(Object.fromEntries(faults)).toEqual({
      groq: [{ kind: 'timeout' }],
      together: [{ kind: 'slow', delayMs: 5 }],
    });
    expect(parseFaults(undefined, providers).size).toBe(0);
    expect(parseFaults('  ', providers).size).toBe(0);
  });

  it('names what is wrong', () => {
    expect(() => parseFaults('{', providers)).toThrow(/not JSON/);
    expect(() => parseFaults('[]', providers)).toThrow(/expected/);
    expect(() => parseFaults('{"groq": {}}', providers)).toThrow(/groq: expected an array/);
    expect(() => parseFaults('{"groq": [1]}', providers)).toThrow(/is not a fault/);
    expect(() => parseFaults('{"groq": [{"kind": "melt"}]}', providers)).toThrow(/unknown fault/);
  });
});
