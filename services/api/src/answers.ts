import { z } from 'zod';
import { AccountStatus, OrgSnapshot } from '@nanobill/contract';
import { GRANULARITIES, GROUP_BYS } from '@nanobill/usage';

// The shape of every answer of the `/v1` routes (docs/contract.md §6, §8), by status code: the
// OpenAPI document at /docs shows them, and the serializer checks each answer against its schema
// and drops any field the schema does not name, so nothing outside the contract leaks.

/** Nano-USD leaving the API: a decimal string of an integer, never a JSON number. */
const nanoUsd = z
  .string()
  .regex(/^-?\d+$/)
  .describe('nano-USD (1e-9 USD) as a decimal string of an integer');
const instant = z.string().describe('ISO-8601 UTC');

export const ErrorAnswer = z
  .object({ error: z.string() })
  .describe('What went wrong; never internals (a 500 says only "internal error")');
export const FieldErrorAnswer = z
  .object({
    error: z.string().describe('"<field>: <problem>"'),
    field: z.string().optional().describe('The input field refused (dotted path)'),
  })
  .describe('Invalid input');

/**
 * Answers every `/v1` route can give besides its own: 400 (invalid input), 401 (no valid bearer
 * token), 429 (rate limit), 500 (our failure), 503 (token lookups busy: retry).
 */
function withCommonErrors<T extends Record<number, z.ZodType>>(answers: T) {
  return {
    400: FieldErrorAnswer,
    401: ErrorAnswer,
    429: ErrorAnswer,
    500: ErrorAnswer,
    503: ErrorAnswer,
    ...answers,
  };
}

/** An org route: another org's token, or an org that does not exist, gets 404. */
function orgAnswers<T extends Record<number, z.ZodType>>(answers: T) {
  return withCommonErrors({ 404: ErrorAnswer, ...answers });
}

const NoStatus = ErrorAnswer.extend({ status: z.null().optional() });

export const StatusAnswers = withCommonErrors({
  200: AccountStatus,
  404: NoStatus.describe('No status published for the account (the router treats it as ok)'),
  503: NoStatus.describe('Statuses not loaded yet, or token lookups busy: retry after Retry-After'),
});

const UsagePoint = z.object({
  t: instant.describe("The bucket's first instant (ISO-8601 UTC)"),
  requests: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  costNanoUsd: nanoUsd,
});
const UsageTotals = UsagePoint.omit({ t: true });

export const UsageAnswers = orgAnswers({
  200: z.object({
    org: z.string(),
    from: instant,
    to: instant,
    granularity: z.enum(GRANULARITIES),
    groupBy: z.enum(GROUP_BYS),
    series: z.array(z.object({ key: z.string(), points: z.array(UsagePoint) })),
    totals: UsageTotals,
  }),
  304: z.void().describe("Not modified: the If-None-Match ETag is the current answer's"),
});

/**
 * A usage answer's JSON as sent: checked against its schema and cut to the fields it names, as
 * the routes' serializer does (the usage route sends JSON it made, to keep it with its ETag).
 */
export function usageAnswerJson(answer: z.input<(typeof UsageAnswers)[200]>): string {
  return JSON.stringify(UsageAnswers[200].parse(answer));
}

export const SpendAnswers = orgAnswers({
  200: z.object({
    org: z.string(),
    month: z.string().describe('YYYY-MM (UTC)'),
    plan: z.string(),
    grossNanoUsd: nanoUsd,
    creditsGrantedNanoUsd: nanoUsd,
    creditsAppliedNanoUsd: nanoUsd,
    payableNanoUsd: nanoUsd,
    forecastNanoUsd: nanoUsd,
    limitNanoUsd: nanoUsd.nullable(),
    disabledProviders: z.array(z.string()),
    providers: z.array(z.string()).describe('What may be disabled: the configured providers'),
    alertWebhookUrl: z.string().nullable(),
    status: AccountStatus.pick({
      status: true,
      reason: true,
      basis: true,
      spendNanoUsd: true,
      updatedAt: true,
    })
      .nullable()
      .describe("This month's status, null until one is published"),
  }),
});

export const RotateSecretAnswers = orgAnswers({
  200: z.object({
    secret: z.string().describe('The new signing secret, shown once'),
    previousValidUntil: instant.nullable(),
  }),
  429: ErrorAnswer.describe('Too many rotations, or too many requests'),
  413: ErrorAnswer,
  415: ErrorAnswer,
});

export const AlertsAnswers = orgAnswers({
  200: z.object({
    alerts: z.array(
      z.object({
        alertId: z.string(),
        type: z.string(),
        severity: z.string(),
        message: z.string(),
        details: z.unknown(),
        createdAt: instant,
        delivery: z
          .object({
            outcome: z.string(),
            attempts: z.number().int(),
            lastError: z.string().nullable(),
            lastAttemptAt: instant,
          })
          .nullable(),
      }),
    ),
  }),
});

export const SettingsAnswers = orgAnswers({
  200: z.object({
    // The contract's fields only: a hub snapshot may carry more (kept on the topic), never shown.
    snapshot: z
      .object(OrgSnapshot.shape)
      .describe('The facts as readers will see them once published'),
    webhookSecret: z
      .string()
      .optional()
      .describe('The signing secret made with a first webhook URL, shown this once'),
  }),
  413: ErrorAnswer,
  415: ErrorAnswer,
});

export const FinanceAnswers = withCommonErrors({
  200: z
    .object({
      rows: z.array(z.record(z.string(), z.unknown())),
      rowCount: z.number().int(),
      error: z.string().optional().describe('Present when ClickHouse failed mid-answer'),
    })
    .describe('Streamed; an answer with `error` is incomplete'),
  403: ErrorAnswer.describe('Not a finance token'),
  413: ErrorAnswer,
  415: ErrorAnswer,
});
