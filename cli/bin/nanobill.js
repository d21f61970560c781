#!/usr/bin/env node
// The sources are TypeScript run through tsx: no build step between a checkout and a running stack.
// nanobill holds money and secrets: it refuses to run on a Node.js line past its end of life.
// `npx nanobill` and npm scripts use the LTS that `npm ci` puts in node_modules/.bin (package.json
// `dependencies.node`), whatever the machine's own Node is.
import { readFileSync } from 'node:fs';

const { engines } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
);
const wanted = Number(/^>=(\d+)/.exec(engines.node)?.[1]);
const major = Number(process.versions.node.split('.')[0]);
if (!(major >= wanted)) {
  console.error(
    `nanobill: Node ${process.versions.node} is not supported (package.json engines: node ${engines.node}); ` +
      'run it through npx or npm scripts after npm ci, which use node_modules/.bin/node',
  );
  process.exit(2);
}
const { register } = await import('tsx/esm/api');
register();
await import('../src/main.ts');
