#!/usr/bin/env node
// The sources are TypeScript run through tsx: no build step between a checkout and a running stack.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
