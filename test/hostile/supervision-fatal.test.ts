import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { spawnTs } from '@nanobill/testkit';

// Attack: an error nobody handles (a forgotten promise, an async event handler, a throw from a
// timer). Before, `nanobill run` either died at once without draining (Node's default: a stack
// trace on stderr, batches in flight never committed) or, had anything swallowed it, lived on
// half dead. Now it is logged as fatal with the error, the services drain, and the exit code is 1.

const CHILD = fileURLToPath(new URL('../fixtures/fatal-child.ts', import.meta.url));

interface LogLine {
  level: number;
  msg: string;
  err?: { message: string };
}

async function run(fault: string, env: NodeJS.ProcessEnv = {}) {
  const { exited } = spawnTs(CHILD, { ...process.env, ...env }, [fault]);
  const { code, stdout, stderr } = await exited;
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
  return { code, lines, messages: lines.map((l) => l.msg), output: `${stdout}\n${stderr}` };
}

describe('process level: a fatal error is logged, the services drain, the exit code is 1', () => {
  it.each([
    ['forgotten-promise', 'unhandled promise rejection', 'boom: a forgotten promise rejected'],
    ['async-handler', 'unhandled promise rejection', 'boom: an async event handler threw'],
    ['throw', 'uncaught exception', 'kaboom: thrown from a timer'],
  ])('%s', async (fault, kind, message) => {
    const { code, lines, messages, output } = await run(fault);
    expect(code, output).toBe(1);
    const fatal = lines.findIndex((l) => l.level === 60);
    expect(lines[fatal]?.msg, output).toContain(kind);
    expect(lines[fatal]?.err?.message, output).toBe(message);
    // Drained after the fatal line, not skipped.
    expect(messages.slice(fatal), output).toEqual([
      expect.stringContaining(kind),
      'draining',
      'service drained',
      'stopped after a fatal error',
    ]);
  });

  it('a drain that hangs does not keep the process half alive: it exits 1 after the bound', async () => {
    const { code, messages } = await run('throw', { HANG: '1', DRAIN_TIMEOUT_MS: '500' });
    expect(code).toBe(1);
    expect(messages).toContain('drain timed out; exiting anyway');
    expect(messages).not.toContain('service drained');
  });
});
