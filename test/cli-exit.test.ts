import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';

// The `nanobill` command's exit (exitAfterOutput, packages/pipeline/src/lifecycle.ts): a large answer read by a slow reader arrives
// whole. Before, `process.exit` dropped what the pipe had not taken yet.
const CHILD = fileURLToPath(new URL('./fixtures/big-output-child.ts', import.meta.url));

describe('the nanobill command exits after its output has left', () => {
  it('a 4 MB answer arrives whole though the reader starts late', async () => {
    const bytes = 4 * 1024 * 1024;
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...process.env, BYTES: String(bytes) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.pause();
    await sleep(500); // the child has written everything and asked to exit by now
    let received = 0;
    child.stdout.on('data', (chunk: Buffer) => (received += chunk.length));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(received).toBe(bytes);
  });
});
