import { z } from 'zod';
import { AccountSnapshot, OrgSettings } from './account-snapshot.js';
import { AccountStatus } from './account-status.js';
import { Alert } from './alert.js';
import { RoutedRequestEvent } from './request-event.js';

/**
 * The JSON Schema files published for routers not written in TypeScript, generated from the zod
 * schemas. `npm run schemas -w @nanobill/contract` rewrites `schemas/`; a test fails on drift.
 */
export const JSON_SCHEMAS: Record<string, () => unknown> = {
  'routed-request-event.v1.schema.json': () =>
    z.toJSONSchema(RoutedRequestEvent, { io: 'input', unrepresentable: 'any' }),
  'account-snapshot.v1.schema.json': () =>
    z.toJSONSchema(AccountSnapshot, { io: 'input', unrepresentable: 'any' }),
  'org-settings.v1.schema.json': () =>
    z.toJSONSchema(OrgSettings, { io: 'input', unrepresentable: 'any' }),
  'account-status.v1.schema.json': () =>
    z.toJSONSchema(AccountStatus, { io: 'input', unrepresentable: 'any' }),
  'alert.v1.schema.json': () => z.toJSONSchema(Alert, { io: 'input', unrepresentable: 'any' }),
};
