import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JSON_SCHEMAS } from '../src/index.js';

const dir = new URL('../schemas/', import.meta.url);

describe('the published JSON Schema files', () => {
  it.each(Object.keys(JSON_SCHEMAS))(
    '%s matches the zod schema (run `npm run schemas -w @nanobill/contract`)',
    (file) => {
      const checkedIn = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as unknown;
      expect(checkedIn).toEqual(JSON_SCHEMAS[file]!());
    },
  );

  it('has no file without a schema', () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(JSON_SCHEMAS).sort());
  });
});
