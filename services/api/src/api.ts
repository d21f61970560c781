import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { ClickHouseClient, FinanceSql } from '@nanobill/clickhouse';
import type { Registry } from '@nanobill/observability';
import { AddressPolicy } from '@nanobill/webhooks';
import { authenticate } from './auth.js';
import { installErrorHandler } from './errors.js';
import { clickhouseQueries, type OrgQueries } from './queries/index.js';
import { financeRoutes } from './routes/finance.js';
import { orgRoutes, type FactsSource, type SecretsSource } from './routes/orgs.js';
import { settingsRoutes, type SettingsMessage } from './routes/settings.js';
import { statusRoutes } from './routes/status.js';
import type { StatusView } from './status-view.js';
import { limitedBy } from './rate-limits.js';
import type { TokenStore } from './tokens.js';
import {
  DEFAULT_USAGE_CACHE_LIMITS,
  UsageAnswerCache,
  type UsageCacheLimits,
} from './usage-cache.js';
import { USAGE_VERSION_REFRESH_MS, UsageVersions } from './usage-versions.js';

/**
 * What the API reads and writes through. Each is the narrowest part of its class the routes use,
 * so that tests of the HTTP layer give small fakes; the org routes' reads are either named queries
 * on `clickhouse`, or `queries` themselves.
 */
export type ApiOptions = ApiDeps & ({ clickhouse: ClickHouseClient } | { queries: OrgQueries });

export interface ApiDeps {
  /** Finance SQL, on a connection of its own (readonly=1 sticks to a chdb connection). */
  financeSql: Pick<FinanceSql, 'rows'>;
  statuses: StatusView;
  facts: FactsSource;
  tokens: Pick<TokenStore, 'verify'>;
  /** Each account's webhook signing secrets: created with a first webhook URL, rotated on demand. */
  webhookSecrets: SecretsSource;
  /** Networks a webhook URL may name besides public addresses (as for delivery); default none. */
  webhookAllowNetworks?: readonly string[];
  /** The configured provider names (valid disabled providers). */
  providers: readonly string[];
  /**
   * Publishes org admins' settings messages to `billing.accounts.v1` with their keys (facts have
   * owners: never the hub's fields).
   */
  publishSettings(messages: SettingsMessage[]): Promise<void>;
  now?: () => Date;
  /**
   * Requests per window: per client address before authentication (default 1,200 a minute),
   * per verified token after it (default 600 a minute).
   */
  rateLimit?: Partial<RateLimits>;
  /**
   * Usage answers kept while their org's usage version is unchanged (default
   * `DEFAULT_USAGE_CACHE_LIMITS`; maxEntries 0 turns the cache off).
   */
  usageCache?: Partial<UsageCacheLimits>;
  /** Where the API's own metrics (the usage cache's) are registered; none by default. */
  metrics?: Registry;
}

export interface RateLimits {
  perAddress: number;
  perToken: number;
  timeWindowMs: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  perAddress: 1_200,
  perToken: 600,
  timeWindowMs: 60_000,
};
/** Bodies beyond this are refused with 413 (settings are well under 10 KiB of JSON). */
export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024;
/** The finance route's SQL is at most 20,000 characters; JSON escapes can grow it sixfold. */
const FINANCE_BODY_LIMIT_BYTES = 128 * 1024;

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
// chart.js exports no subpath for its UMD build: found next to its CommonJS entry.
const CHART_JS = join(
  dirname(createRequire(import.meta.url).resolve('chart.js')),
  'chart.umd.min.js',
);

/**
 * The HTTP API and dashboard (docs/contract.md §6, §8), a Fastify plugin that `startApiServer`
 * serves alone on `PORT`: zod-validated input (400 names the field), bearer tokens (401), org
 * tokens confined to their org (404 elsewhere), a rate limit per verified token (the server limits
 * each address before), security headers, the OpenAPI document at `/docs`, and the dashboard's
 * static files at `/`.
 */
export function apiRoutes(options: ApiOptions): FastifyPluginAsync {
  const now = options.now ?? (() => new Date());
  const limits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimit };
  const queries = 'queries' in options ? options.queries : clickhouseQueries(options.clickhouse);
  const usageAnswers = new UsageAnswerCache(
    { ...DEFAULT_USAGE_CACHE_LIMITS, ...options.usageCache },
    options.metrics,
  );
  const usageVersions = new UsageVersions({
    read: (orgs) => queries.usageVersions(orgs),
    registry: options.metrics,
  });
  return async (app) => {
    if (usageAnswers.enabled) {
      usageVersions.start(USAGE_VERSION_REFRESH_MS, (error) =>
        app.log.warn({ err: error }, 'usage versions not refreshed: they are read per request'),
      );
      app.addHook('onClose', () => usageVersions.stop());
    }
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    installErrorHandler(app);
    await app.register(helmet, {
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          // Swagger UI's page styles itself inline; the dashboard does not need it.
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
        },
      },
    });
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'nanobill API',
          description:
            'Usage, spend, settings and alerts for org admins; account status for the router; read-only SQL for finance. Money is nano-USD (1e-9 USD) as decimal strings.',
          version: '1.0.0',
        },
        components: {
          securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        },
        security: [{ bearer: [] }],
      },
      transform: jsonSchemaTransform,
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/', index: 'index.html' });
    app.get('/assets/vendor/chart.umd.js', { schema: { hide: true } }, (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').send(createReadStream(CHART_JS)),
    );

    await app.register(async (v1) => {
      v1.addHook('onRequest', authenticate(options.tokens));
      // After authentication, keyed on the verified token: nobody spends another token's budget.
      v1.addHook(
        'onRequest',
        limitedBy(
          v1,
          {
            max: limits.perToken,
            timeWindowMs: limits.timeWindowMs,
            keyOf: (request) => `token:${request.principal!.tokenId}`,
          },
          'for this token',
        ),
      );
      // Answers about one org or account: never kept by a shared cache.
      v1.addHook('onSend', async (_request, reply) => {
        reply.header('cache-control', 'no-store');
      });
      await v1.register(statusRoutes(options.statuses));
      const webhookPolicy = new AddressPolicy(options.webhookAllowNetworks);
      await v1.register(
        orgRoutes({
          queries,
          statuses: options.statuses,
          facts: options.facts,
          providers: options.providers,
          webhookSecrets: options.webhookSecrets,
          webhookPolicy,
          usageAnswers,
          usageVersions,
          now,
        }),
      );
      await v1.register(
        settingsRoutes({
          facts: options.facts,
          providers: options.providers,
          publishSettings: options.publishSettings,
          webhookSecrets: options.webhookSecrets,
          webhookPolicy,
          now,
        }),
      );
      await v1.register(financeRoutes(options.financeSql, FINANCE_BODY_LIMIT_BYTES));
    });
  };
}
