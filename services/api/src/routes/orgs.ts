import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { accountMonth, type AccountFactsReader } from '@nanobill/accounts';
import { spendingLimitOf } from '@nanobill/contract';
import { applyCredits, monthBounds, monthOf } from '@nanobill/credits';
import { nanoToJson, roundHalfUp } from '@nanobill/money';
import { monthToDateGross } from '@nanobill/statements';
import { accountAlerts } from '@nanobill/tables';
import { usageSeries } from '@nanobill/usage';
import type { ClickHouseClient } from '@nanobill/clickhouse';
import {
  DEFAULT_OVERLAP_MS,
  MAX_OVERLAP_MS,
  RotationLimitError,
  type AddressPolicy,
  type WebhookSecretStore,
} from '@nanobill/webhooks';
import { requireOrg } from '../auth.js';
import { BadInput } from '../errors.js';
import type { StatusView } from '../status-view.js';

export interface OrgRoutesDeps {
  clickhouse: ClickHouseClient;
  statuses: StatusView;
  facts: AccountFactsReader;
  providers: readonly string[];
  webhookSecrets: WebhookSecretStore;
  webhookPolicy: AddressPolicy;
  now: () => Date;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** The longest window per granularity: bounded rows per answer. */
const MAX_SPAN_MS = { hour: 31 * DAY_MS, day: 400 * DAY_MS, month: 3_660 * DAY_MS } as const;

const OrgParams = z.object({ org: z.string().min(1).max(256) });
const UsageQuery = z.object({
  from: z.iso.datetime({ offset: false }).optional(),
  to: z.iso.datetime({ offset: false }).optional(),
  granularity: z.enum(['hour', 'day', 'month']).default('day'),
  groupBy: z.enum(['member', 'provider', 'model', 'task']).default('member'),
});
const AlertsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) });
const RotateSecret = z
  .strictObject({
    overlapHours: z
      .number()
      .min(0)
      .max(MAX_OVERLAP_MS / HOUR_MS)
      .default(DEFAULT_OVERLAP_MS / HOUR_MS),
  })
  .default({ overlapHours: DEFAULT_OVERLAP_MS / HOUR_MS });

/** The org admin's routes (docs/contract.md §8): usage, spend, settings, alerts; own org only. */
export function orgRoutes(deps: OrgRoutesDeps): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.addHook('preHandler', requireOrg);

    app.get(
      '/v1/orgs/:org/usage',
      {
        schema: {
          summary: 'Usage over time: requests, tokens and cost, stacked by a dimension',
          params: OrgParams,
          querystring: UsageQuery,
        },
      },
      async (request) => {
        const { org } = request.params;
        const { granularity, groupBy } = request.query;
        const to = request.query.to ? new Date(request.query.to) : ceilHour(deps.now());
        const from = request.query.from
          ? new Date(request.query.from)
          : new Date(to.getTime() - 30 * DAY_MS);
        for (const [field, at] of [
          ['from', from],
          ['to', to],
        ] as const) {
          if (at.getTime() % HOUR_MS !== 0) throw new BadInput(field, 'must be a whole hour (UTC)');
        }
        if (from >= to) throw new BadInput('from', 'must be before to');
        if (to.getTime() - from.getTime() > MAX_SPAN_MS[granularity]) {
          throw new BadInput(
            'to',
            `a ${granularity} graph spans at most ${MAX_SPAN_MS[granularity] / DAY_MS} days`,
          );
        }
        const usage = await usageSeries(deps.clickhouse, {
          account: org,
          from,
          to,
          granularity,
          groupBy,
        });
        return {
          org,
          from: from.toISOString(),
          to: to.toISOString(),
          granularity,
          groupBy,
          ...usage,
        };
      },
    );

    app.get(
      '/v1/orgs/:org/spend',
      {
        schema: {
          summary: 'Month to date: gross, credits, payable, limit, status, forecast',
          params: OrgParams,
        },
      },
      async (request) => {
        const { org } = request.params;
        const now = deps.now();
        const month = monthOf(now);
        await deps.facts.refresh();
        const account = accountMonth(deps.facts.history, org, month, now);
        // The statement's own figure (late adjustments of earlier final months included).
        const gross = await monthToDateGross(deps.clickhouse, org, month);
        const credits = applyCredits({
          gross,
          grant: account.grant,
          payAsYouGo: account.payAsYouGo,
        });
        const snapshot = account.snapshot?.kind === 'org' ? account.snapshot : undefined;
        const limit = snapshot ? spendingLimitOf(snapshot) : undefined;
        const status = deps.statuses.get(org);
        return {
          org,
          month,
          plan: account.facts.plan,
          grossNanoUsd: nanoToJson(gross),
          creditsGrantedNanoUsd: nanoToJson(account.grant),
          creditsAppliedNanoUsd: nanoToJson(credits.creditsApplied),
          payableNanoUsd: nanoToJson(credits.payable),
          forecastNanoUsd: nanoToJson(forecast(gross, month, now)),
          limitNanoUsd: limit === undefined ? null : nanoToJson(limit),
          disabledProviders: snapshot?.disabledProviders ?? [],
          /** What may be disabled: the configured providers. */
          providers: [...deps.providers].sort(),
          alertWebhookUrl: snapshot?.alertWebhookUrl ?? null,
          status:
            status === undefined || status.month !== month
              ? null
              : {
                  status: status.status,
                  reason: status.reason,
                  basis: status.basis,
                  spendNanoUsd: status.spendNanoUsd,
                  updatedAt: status.updatedAt,
                },
        };
      },
    );

    app.post(
      '/v1/orgs/:org/webhook-secret',
      {
        schema: {
          summary:
            'A new webhook signing secret, shown once; the previous one verifies until previousValidUntil',
          params: OrgParams,
          body: RotateSecret,
        },
      },
      async (request, reply) => {
        const { org } = request.params;
        await deps.facts.refresh();
        if (deps.facts.history.at(org, deps.now())?.kind !== 'org') {
          return reply.code(404).send({ error: 'not found' });
        }
        const overlapMs = Math.round(request.body.overlapHours * HOUR_MS);
        const rotated = await deps.webhookSecrets.rotate(org, overlapMs).catch((error: unknown) => {
          if (error instanceof RotationLimitError) return undefined;
          throw error;
        });
        if (rotated === undefined) {
          return reply
            .code(429)
            .header('retry-after', '3600')
            .send({ error: new RotationLimitError().message });
        }
        request.log.info({ org, overlapMs }, 'webhook secret rotated');
        return {
          secret: rotated.secret,
          previousValidUntil: rotated.previousValidUntil?.toISOString() ?? null,
        };
      },
    );

    app.get(
      '/v1/orgs/:org/alerts',
      {
        schema: {
          summary: 'Recent alerts and their deliveries',
          params: OrgParams,
          querystring: AlertsQuery,
        },
      },
      async (request) => {
        const rows = await accountAlerts(deps.clickhouse, request.params.org, request.query.limit);
        return {
          alerts: rows.map((r) => ({
            alertId: r.alert_id,
            type: r.type,
            severity: r.severity,
            message: r.message,
            details: JSON.parse(r.details) as unknown,
            createdAt: utc(r.created_at),
            delivery:
              r.outcome === ''
                ? null
                : {
                    outcome: r.outcome,
                    attempts: Number(r.attempts),
                    lastError: r.last_error || null,
                    lastAttemptAt: utc(r.last_at),
                  },
          })),
        };
      },
    );
  };
}

function ceilHour(at: Date): Date {
  return new Date(Math.ceil(at.getTime() / HOUR_MS) * HOUR_MS);
}

/** ClickHouse's 'YYYY-MM-DD hh:mm:ss.sss' (UTC) as ISO-8601. */
function utc(text: string): string {
  return `${text.replace(' ', 'T')}Z`;
}

/**
 * The month's gross at the current rate: gross × month length ÷ time elapsed (at least an hour,
 * so that the first minutes of a month do not extrapolate wildly), rounded half-up.
 */
export function forecast(gross: bigint, month: string, now: Date): bigint {
  const { start, end } = monthBounds(month);
  const elapsed = BigInt(Math.max(HOUR_MS, now.getTime() - start.getTime()));
  const length = BigInt(end.getTime() - start.getTime());
  return elapsed >= length ? gross : roundHalfUp(gross * length, elapsed);
}
