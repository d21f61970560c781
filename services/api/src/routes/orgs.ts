import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import { accountMonth, type AccountFactsReader } from '@nanobill/accounts';
import { spendingLimitOf } from '@nanobill/contract';
import { applyCredits } from '@nanobill/credits';
import { monthBounds, monthOf } from '@nanobill/calendar';
import { nanoToJson, roundHalfUp } from '@nanobill/money';
import {
  DEFAULT_OVERLAP_MS,
  MAX_OVERLAP_MS,
  RotationLimitError,
  type AddressPolicy,
  type WebhookSecretStore,
} from '@nanobill/webhooks';
import {
  AlertsAnswers,
  RotateSecretAnswers,
  SpendAnswers,
  UsageAnswers,
  usageAnswerJson,
} from '../answers.js';
import { OrgParams, orgScoped } from './org-scope.js';
import { BadInput } from '../errors.js';
import type { OrgQueries } from '../queries/index.js';
import type { StatusView } from '../status-view.js';
import type { UsageVersions } from '../usage-versions.js';
import { etagOf, noneMatch, usageAnswerKey, type UsageAnswerCache } from '../usage-cache.js';

/** The account facts as the routes read them: refreshed from the stored messages on demand. */
export type FactsSource = Pick<AccountFactsReader, 'refresh' | 'history'>;
/** The webhook signing secrets as the routes use them. */
export type SecretsSource = Pick<WebhookSecretStore, 'ensure' | 'rotate'>;

export interface OrgRoutesDeps {
  queries: OrgQueries;
  statuses: StatusView;
  facts: FactsSource;
  providers: readonly string[];
  webhookSecrets: SecretsSource;
  webhookPolicy: AddressPolicy;
  /** Usage answers kept while their org's usage version is unchanged. */
  usageAnswers: UsageAnswerCache;
  /** The orgs' usage versions the kept answers are checked against. */
  usageVersions: Pick<UsageVersions, 'get'>;
  now: () => Date;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** The longest window per granularity: bounded rows per answer. */
const MAX_SPAN_MS = { hour: 31 * DAY_MS, day: 400 * DAY_MS, month: 3_660 * DAY_MS } as const;

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
    const app = orgScoped(plain);

    app.get(
      '/v1/orgs/:org/usage',
      {
        schema: {
          summary: 'Usage over time: requests, tokens and cost, stacked by a dimension',
          params: OrgParams,
          querystring: UsageQuery,
          response: UsageAnswers,
        },
      },
      async (request, reply) => {
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
        const query = { account: org, from, to, granularity, groupBy };
        const compute = async () => {
          const usage = await deps.queries.usageSeries(query);
          return usageAnswerJson({
            org,
            from: from.toISOString(),
            to: to.toISOString(),
            granularity,
            groupBy,
            ...usage,
          });
        };
        const { answer, outcome } = deps.usageAnswers.enabled
          ? await deps.usageAnswers.answer(
              usageAnswerKey(request.principal!, query),
              // Read before the answer (see UsageAnswerCache).
              await deps.usageVersions.get(org),
              compute,
            )
          : await compute().then((body) => ({
              answer: { body, etag: etagOf(body) },
              outcome: 'miss',
            }));
        request.log.debug({ org, granularity, groupBy, outcome }, 'usage answer');
        // The answer depends on the token: a cache in between must not give it to another.
        reply.header('etag', answer.etag).header('vary', 'authorization');
        if (noneMatch(request.headers['if-none-match'], answer.etag)) {
          return reply.code(304).send();
        }
        return sendJson(reply, answer.body);
      },
    );

    app.get(
      '/v1/orgs/:org/spend',
      {
        schema: {
          summary: 'Month to date: gross, credits, payable, limit, status, forecast',
          params: OrgParams,
          response: SpendAnswers,
        },
      },
      async (request) => {
        const { org } = request.params;
        const now = deps.now();
        const month = monthOf(now);
        await deps.facts.refresh();
        const account = accountMonth(deps.facts.history, org, month, now);
        // The statement's own figure (late adjustments of earlier final months included).
        const gross = await deps.queries.monthToDateGross(org, month);
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
          response: RotateSecretAnswers,
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
          response: AlertsAnswers,
        },
      },
      async (request) => ({
        alerts: await deps.queries.recentAlerts(request.params.org, request.query.limit),
      }),
    );
  };
}

/** Sends JSON made already (checked against the route's schema when it was made). */
function sendJson(reply: FastifyReply, body: string) {
  return reply.type('application/json; charset=utf-8').send(body);
}

function ceilHour(at: Date): Date {
  return new Date(Math.ceil(at.getTime() / HOUR_MS) * HOUR_MS);
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
