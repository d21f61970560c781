import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findChromium, noChromiumMessage } from './fixtures/chromium.js';

// Which Chromium the browser tests get: CHROMIUM_PATH wins, a missing package falls through to
// Debian's, and the skip message names the one command that gets a Chromium.
describe('findChromium', () => {
  it('takes CHROMIUM_PATH when set, and finds nothing when it names no file', async () => {
    const here = process.execPath; // a file that exists
    await expect(findChromium({ CHROMIUM_PATH: here })).resolves.toMatchObject({
      executablePath: here,
      from: 'CHROMIUM_PATH',
    });
    await expect(findChromium({ CHROMIUM_PATH: '/nonexistent/chromium' })).resolves.toBe(undefined);
  });

  it('without the package, falls back to /usr/bin/chromium when there is one', async () => {
    const found = await findChromium({}, '@nanobill/no-such-chromium-package');
    if (existsSync('/usr/bin/chromium')) {
      expect(found).toMatchObject({ executablePath: '/usr/bin/chromium' });
      expect(found!.args).toContain('--disable-background-networking');
    } else {
      expect(found).toBe(undefined);
    }
  });

  it('says what it looked for and how to get a Chromium', () => {
    expect(noChromiumMessage({ CHROMIUM_PATH: '/x/chromium' })).toBe(
      'no Chromium (nothing at CHROMIUM_PATH=/x/chromium); get one with: sudo apt-get install chromium',
    );
    expect(noChromiumMessage({})).toContain('no @sparticuz/chromium package');
  });
});
