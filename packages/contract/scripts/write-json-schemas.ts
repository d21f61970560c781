import { writeFileSync } from 'node:fs';
import { JSON_SCHEMAS } from '../src/json-schemas.js';

for (const [file, build] of Object.entries(JSON_SCHEMAS)) {
  const path = new URL(`../schemas/${file}`, import.meta.url);
  writeFileSync(path, `${JSON.stringify(build(), null, 2)}\n`);
  console.log(`wrote schemas/${file}`);
}
