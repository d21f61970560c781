import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import {
  ADMIN_FIELDS,
  OrgSettings,
  nanoUsdDigits,
  settingValue,
  settingsKey,
  type OrgSnapshot,
} from '@nanobill/contract';
import type { AddressPolicy } from '@nanobill/webhooks';
import { SettingsAnswers } from '../answers.js';
import { OrgParams, orgScoped } from './org-scope.js';
import type { FactsSource, SecretsSource } from './orgs.js';
import { BadInput } from '../errors.js';
import { checkWebhookUrl } from '../webhook-url.js';

/** One settings message for `billing.accounts.v1`, with its key. */
export interface SettingsMessage {
  key: string;
  settings: OrgSettings;
}

export interface SettingsRoutesDeps {
  facts: FactsSource;
  providers: readonly string[];
  /** Publishes the messages to `billing.accounts.v1` (acks from all replicas). */
  publishSettings(messages: SettingsMessage[]): Promise<void>;
  webhookSecrets: SecretsSource;
  webhookPolicy: AddressPolicy;
  now: () => Date;
}

const Settings = z
  .strictObject({
    spendingLimitNanoUsd: nanoUsdDigits.nullable().optional(),
    disabledProviders: z.array(z.string().min(1).max(64)).max(64).optional(),
    alertWebhookUrl: z
      .url({ protocol: /^https$/, error: 'must be an https URL' })
      .max(2048)
      .nullable()
      .optional(),
  })
  .refine((s) => Object.keys(s).length > 0, 'nothing to change');
type Settings = z.infer<typeof Settings>;

/**
 * `PUT /v1/orgs/{org}/settings` (docs/contract.md §8): the org admin's fields, and only those.
 * Facts have owners (docs/contract.md §5): the route publishes what the admin changed as
 * `OrgSettings` messages, one per field, never a copy of the hub's fields, so that a save made
 * while the account history is behind cannot revert a plan or membership change from the hub, and a
 * later hub snapshot cannot remove what the admin set (every reader merges them by owner).
 */
export function settingsRoutes(deps: SettingsRoutesDeps): FastifyPluginAsync {
  return async (plain) => {
    orgScoped(plain).put(
      '/v1/orgs/:org/settings',
      {
        schema: {
          params: OrgParams,
          body: Settings,
          response: SettingsAnswers,
          summary:
            'Spending limit, disabled providers, alert webhook: published as settings messages (one per field) on billing.accounts.v1',
        },
      },
      async (request, reply) => {
        const { org } = request.params;
        const body = request.body;
        checkSettings(body, deps);
        await deps.facts.refresh();
        const now = deps.now();
        const current = deps.facts.history.at(org, now);
        if (current?.kind !== 'org') return reply.code(404).send({ error: 'not found' });
        const messages = settingsMessages(org, body, now, deps.facts);
        // A webhook needs a signing secret: made before the URL is published, so the alerts
        // service signs with the one shown here. Shown only to the request that created it.
        const secret = body.alertWebhookUrl
          ? await deps.webhookSecrets.ensure(org)
          : { secret: '', created: false };
        await deps.publishSettings(messages);
        request.log.info({ org, fields: Object.keys(body) }, 'org settings published');
        const snapshot = withSettings(current, messages);
        return secret.created ? { snapshot, webhookSecret: secret.secret } : { snapshot };
      },
    );
  };
}

/** Refuses unknown providers and webhook URLs that name no public address (400, by field). */
function checkSettings(body: Settings, deps: SettingsRoutesDeps): void {
  for (const [i, provider] of (body.disabledProviders ?? []).entries()) {
    if (!deps.providers.includes(provider)) {
      throw new BadInput(`disabledProviders.${i}`, `unknown provider ${JSON.stringify(provider)}`);
    }
  }
  if (body.alertWebhookUrl) {
    const problem = checkWebhookUrl(body.alertWebhookUrl, deps.webhookPolicy);
    if (problem) throw new BadInput('alertWebhookUrl', problem);
  }
}

/**
 * One message per field changed, keyed `<org>:<field>` (compaction keeps each field's latest),
 * effective now, or just after the admin's latest setting of that field if clocks disagree: the
 * newest setting must win.
 */
function settingsMessages(
  org: string,
  body: Settings,
  now: Date,
  facts: FactsSource,
): SettingsMessage[] {
  return ADMIN_FIELDS.filter((field) => body[field] !== undefined).map((field) => {
    const last = facts.history.lastSetAt(org, field) ?? Number.NEGATIVE_INFINITY;
    const effectiveAt = new Date(Math.max(now.getTime(), last + 1)).toISOString();
    const value =
      field === 'disabledProviders' ? [...new Set(body.disabledProviders)].sort() : body[field];
    const settings = OrgSettings.parse({
      schemaVersion: 1,
      source: 'admin',
      accountId: org,
      effectiveAt,
      [field]: value,
    });
    return { key: settingsKey(org, field), settings };
  });
}

/** The facts as readers will see them once the messages are consumed (the answer's `snapshot`). */
function withSettings(current: OrgSnapshot, messages: SettingsMessage[]): OrgSnapshot {
  const next: Record<string, unknown> = { ...current };
  let effective = Date.parse(current.effectiveAt);
  for (const { settings } of messages) {
    for (const field of ADMIN_FIELDS) {
      if (settings[field] === undefined) continue;
      const value = settingValue(settings[field]);
      if (value === undefined) delete next[field];
      else next[field] = value;
    }
    effective = Math.max(effective, Date.parse(settings.effectiveAt));
  }
  next.effectiveAt = new Date(effective).toISOString();
  return next as OrgSnapshot;
}
