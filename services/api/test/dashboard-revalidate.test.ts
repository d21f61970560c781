import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, MAX_REVALIDATED_ANSWERS } from '../public/api.js';
import { state } from '../public/state.js';

// The dashboard's usage requests revalidated with their ETag (services/api/public/api.js), with
// fetch stubbed: what is sent, and what a 304 gives back.

type Sent = Record<string, string>;

function stubFetch(answers: Array<() => Response>) {
  const sent: Sent[] = [];
  vi.stubGlobal('fetch', async (_url: string, init: { headers: Sent }) => {
    sent.push(init.headers);
    const next = answers.shift();
    if (next === undefined) throw new Error('no answer left');
    return next();
  });
  return sent;
}

const ok = (body: unknown, etag: string) => () =>
  new Response(JSON.stringify(body), { status: 200, headers: { ETag: etag } });
const notModified = (etag: string) => () =>
  new Response(null, { status: 304, headers: { ETag: etag } });

describe('api.js: usage answers revalidated with their ETag', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    state.session = null;
  });

  it('sends If-None-Match with the kept ETag and gives the kept answer back on 304', async () => {
    const session = { org: 'acme', token: 't1' };
    state.session = session;
    const sent = stubFetch([ok({ n: 1 }, '"a"'), notModified('"a"'), ok({ n: 2 }, '"b"')]);
    expect(await api(session, 'GET', 'usage?x', { revalidate: true })).toEqual({ n: 1 });
    expect(await api(session, 'GET', 'usage?x', { revalidate: true })).toEqual({ n: 1 });
    expect(await api(session, 'GET', 'usage?x', { revalidate: true })).toEqual({ n: 2 });
    expect(sent.map((h) => h['If-None-Match'])).toEqual([undefined, '"a"', '"a"']);
  });

  it('keeps nothing across sessions, nor for requests that do not ask, and at most the bound', async () => {
    const acme = { org: 'acme', token: 't1' };
    state.session = acme;
    const answers = [ok({ n: 1 }, '"a"')];
    for (let i = 0; i < MAX_REVALIDATED_ANSWERS; i++) answers.push(ok({ i }, `"e${i}"`));
    answers.push(ok({ n: 3 }, '"c"'), ok({ n: 4 }, '"d"'), ok({ n: 5 }, '"a"'));
    const sent = stubFetch(answers);
    await api(acme, 'GET', 'usage?x', { revalidate: true });
    for (let i = 0; i < MAX_REVALIDATED_ANSWERS; i++) {
      await api(acme, 'GET', `usage?${i}`, { revalidate: true });
    }
    // usage?x was the oldest of MAX + 1: no longer kept.
    await api(acme, 'GET', 'usage?x', { revalidate: true });
    await api(acme, 'GET', 'spend');
    const globex = { org: 'globex', token: 't2' };
    state.session = globex;
    await api(globex, 'GET', 'usage?x', { revalidate: true });
    expect(sent.slice(-3).map((h) => h['If-None-Match'])).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});
