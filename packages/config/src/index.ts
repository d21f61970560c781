import { resolve } from 'node:path';
import { z } from 'zod';

export { localSecret, readPrivateFile } from './local-secret.js';
import { DEFAULT_EVENT_WINDOW, MAX_EVENT_WINDOW_MS, type EventWindow } from '@nanobill/contract';

const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port')).min(1));

/** Addresses or CIDR ranges, comma-separated (the load balancers trusted for X-Forwarded-For). */
const addressList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], {
          error: 'expected IP addresses or CIDR ranges',
        }),
      )
      .min(1),
  );

const port = z.coerce.number().int().min(0).max(65535);

/** Networks in CIDR notation, comma-separated (e.g. `127.0.0.1/32`); may be empty. */
const cidrList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z.union([z.cidrv4(), z.cidrv6()], {
        error: 'expected networks in CIDR notation, e.g. 127.0.0.1/32',
      }),
    ),
  );

/** The old deployment-wide secret: refused, with what replaced it. */
const renamed = (replacement: string) =>
  z
    .undefined({
      error: `no longer read: account alerts are signed with per-account secrets (nanobill webhooks rotate-secret); the operations webhook's secret is ${replacement}`,
    })
    .optional();

const Env = z.object({
  KAFKA_BROKERS: brokerList.optional(),
  KAFKA_PORT: z.coerce.number().int().min(1).max(65535).default(9092),
  CLICKHOUSE_URL: z.url().optional(),
  NANOBILL_DATA_DIR: z.string().min(1).default('./.data'),
  PORT: port.default(8080),
  NANOBILL_REQUESTS_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(6),
  NANOBILL_INGEST_MAX_ROWS: z.coerce.number().int().min(1).max(500_000).default(20_000),
  NANOBILL_INGEST_MAX_WAIT_MS: z.coerce.number().int().min(1).max(60_000).default(1_000),
  NANOBILL_PROVIDERS_FILE: z.string().min(1).optional(),
  NANOBILL_PRICING_DEADLINE_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(24 * 60 * 60 * 1000),
  NANOBILL_PRICING_SCHEDULE: z.string().min(1).default('* * * * *'),
  // How long attribution waits for an account's first snapshot (docs/contract.md §5): pricing and
  // enforcement both (@nanobill/attribution's DEFAULT_GRACE_MS, 5 minutes, by default).
  NANOBILL_ATTRIBUTION_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 60 * 60 * 1000)
    .default(5 * 60 * 1000),
  // Alert webhooks. Account alerts are signed with each account's own secret, stored encrypted
  // under the secrets key; the operations webhook has a secret of its own; deliveries reach
  // public addresses only, plus the networks allowed here (a local receiver in development).
  NANOBILL_WEBHOOK_CA_FILE: z.string().min(1).optional(),
  NANOBILL_OPS_WEBHOOK_URL: z
    .url({ protocol: /^https$/, error: 'must be an https URL' })
    .optional(),
  NANOBILL_OPS_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  NANOBILL_OPS_WEBHOOK_SECRET_FILE: z.string().min(1).optional(),
  NANOBILL_SECRETS_KEY: z
    .string()
    .regex(
      /^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)$/,
      '32 bytes as 64 hex digits or base64 (openssl rand -hex 32)',
    )
    .optional(),
  NANOBILL_SECRETS_KEY_FILE: z.string().min(1).optional(),
  NANOBILL_WEBHOOK_ALLOW_NETWORKS: cidrList.default([]),
  NANOBILL_WEBHOOK_SECRET: renamed('NANOBILL_OPS_WEBHOOK_SECRET'),
  NANOBILL_WEBHOOK_SECRET_FILE: renamed('NANOBILL_OPS_WEBHOOK_SECRET_FILE'),
  HOST: z.string().min(1).default('127.0.0.1'),
  KAFKA_SSL: z.enum(['true', 'false']).default('false'),
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD_FILE: z.string().min(1).optional(),
  /** SASL over a cleartext connection exposes the credentials (PLAIN) and every message. */
  KAFKA_SASL_ALLOW_CLEARTEXT: z.enum(['true', 'false']).default('false'),
  NANOBILL_COST_ENDPOINT_FAILING_AFTER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5 * 60 * 1000),

  // The API's exposure (issue 12). Operations endpoints (/metrics, /healthz, /readyz) listen on a
  // port of their own, on loopback unless told otherwise: readiness names internal failures and
  // metrics describe the business, neither is for the public. 9464 is the port Prometheus
  // exporters commonly use (OpenTelemetry's), away from the 8080 range of web services.
  NANOBILL_OPS_PORT: port.default(9464),
  NANOBILL_OPS_HOST: z.string().min(1).default('127.0.0.1'),
  // Load balancers whose X-Forwarded-For is believed; unset: the header is ignored and the
  // client address is the connection's (never "trust everyone": any client could pick its own).
  NANOBILL_TRUST_PROXY: addressList.optional(),
  // Requests a minute: per client address before authentication, per verified token after.
  NANOBILL_API_RATE_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(1_200),
  NANOBILL_API_RATE_PER_TOKEN: z.coerce.number().int().min(1).max(1_000_000).default(600),
  // How long a verified token is trusted without asking ClickHouse: the revocation delay.
  NANOBILL_TOKEN_CACHE_TTL_MS: z.coerce.number().int().min(0).max(300_000).default(10_000),
  // Lifetime of a token created without --expires-in (--no-expiry must be asked for).
  NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS: z.coerce.number().int().min(1).max(3_650).default(90),
  // The chdb server (`npm run chdb:server`): the password its clients must send. Unset: generated
  // once into `<data dir>/chdb-server-password` (mode 0600).
  NANOBILL_CHDB_SERVER_PASSWORD: z.string().min(16, 'at least 16 characters').optional(),
  NANOBILL_CHDB_SERVER_PASSWORD_FILE: z.string().min(1).optional(),
  // Finance SQL on a ClickHouse server: the finance user's URL (its credentials; the API and
  // `nanobill query` use it when set), and that user's password for `nanobill migrate
  // --finance-user` (one of the two, the file for a mounted secret).
  CLICKHOUSE_FINANCE_URL: z.url().optional(),
  NANOBILL_FINANCE_PASSWORD: z.string().min(16, 'at least 16 characters').optional(),
  NANOBILL_FINANCE_PASSWORD_FILE: z.string().min(1).optional(),
  // The event window (docs/contract.md §2): an event whose timestamp is older than MAX_AGE or
  // further ahead than MAX_AHEAD of the time its message reached Kafka is bad input (DLQ,
  // out_of_window). Ingest, pricing and enforcement read it alike. At most a century either way.
  NANOBILL_EVENT_MAX_AGE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_EVENT_WINDOW_MS)
    .default(DEFAULT_EVENT_WINDOW.maxAgeMs),
  NANOBILL_EVENT_MAX_AHEAD_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_EVENT_WINDOW_MS)
    .default(DEFAULT_EVENT_WINDOW.maxAheadMs),
  // Supervision of Kafka consumers: one that kafkajs does not restart after a crash is
  // restarted after FIRST ms, the wait doubling after each failed attempt up to MAX ms.
  NANOBILL_CONSUMER_RESTART_FIRST_MS: z.coerce.number().int().min(1).max(600_000).default(1_000),
  NANOBILL_CONSUMER_RESTART_MAX_MS: z.coerce.number().int().min(1).max(3_600_000).default(60_000),
  // How often the running pipeline audits its books (docs/finance.md "Audit: the books checked");
  // 0: never (`nanobill audit` still does on demand).
  NANOBILL_AUDIT_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(60 * 60_000),
});

/** How nanobill reaches a secured Kafka (TLS, SASL); secrets stay in files or the environment. */
export interface KafkaSecurity {
  ssl: boolean;
  /** Extra CA (PEM file) for the brokers' certificates. */
  caFile: string | undefined;
  sasl:
    | {
        mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
        username: string;
        password: string | undefined;
        passwordFile: string | undefined;
      }
    | undefined;
  /** KAFKA_SASL_ALLOW_CLEARTEXT: SASL over a connection without TLS, accepted explicitly. */
  allowCleartext: boolean;
}

export const SASL_CLEARTEXT_REFUSAL =
  'SASL without TLS sends the credentials and the data in clear: set KAFKA_SSL=true, or KAFKA_SASL_ALLOW_CLEARTEXT=true to accept that explicitly';

/** SASL over cleartext unless explicitly allowed: refused at start-up and by the Kafka edge. */
export function refusesCleartextSasl(security: KafkaSecurity): boolean {
  const tls = security.ssl || security.caFile !== undefined;
  return security.sasl !== undefined && !tls && !security.allowCleartext;
}

export interface Config {
  /** Absent: the local broker that the project's scripts start on 127.0.0.1. */
  kafkaBrokers: string[] | undefined;
  /** Port of that local broker (its controller listens on the next one). */
  localKafkaPort: number;
  /** Absent: embedded ClickHouse (chdb) under `dataDir/clickhouse`. */
  clickhouseUrl: string | undefined;
  /** The finance user's server URL, for finance SQL; absent: `clickhouseUrl`'s connection. */
  clickhouseFinanceUrl: string | undefined;
  /** The finance user's password (or its file), for `nanobill migrate --finance-user`. */
  financePassword: { value: string | undefined; file: string | undefined };
  dataDir: string;
  /** The API's port: only a process running the `api` service listens on it. */
  port: number;
  /** Address the API listens on (0.0.0.0 in a container). */
  host: string;
  /** `/metrics`, `/healthz`, `/readyz`: every `nanobill run` process, apart from the API. */
  ops: { port: number; host: string };
  api: {
    /** Proxies trusted for X-Forwarded-For (undefined: the header is ignored). */
    trustProxy: string[] | undefined;
    /** Requests a minute per client address (before authentication). */
    ratePerAddress: number;
    /** Requests a minute per verified token. */
    ratePerToken: number;
    /** A verified token is re-checked in ClickHouse after this long (the revocation delay). */
    tokenCacheTtlMs: number;
  };
  tokens: { defaultExpiryDays: number };
  kafkaSecurity: KafkaSecurity;
  requestsPartitions: number;
  ingest: { maxRows: number; maxWaitMs: number };
  /** Absent: the local stack's file, `infra/providers/local.json`. */
  providersFile: string | undefined;
  /**
   * Alert webhooks: an extra trusted CA file, the operations webhook and its secret (from
   * NANOBILL_OPS_WEBHOOK_SECRET or its file; absent: the local stack's, kept under the data
   * directory), and the networks deliveries may reach besides public addresses.
   */
  webhooks: {
    caFile: string | undefined;
    opsUrl: string | undefined;
    opsSecret: string | undefined;
    opsSecretFile: string | undefined;
    allowNetworks: string[];
  };
  /**
   * The key that encrypts stored secrets (AES-256-GCM): NANOBILL_SECRETS_KEY or its file;
   * absent: the local stack's, kept under the data directory.
   */
  secretsKey: { key: string | undefined; file: string | undefined };
  /** Accepted event timestamps around each message's Kafka time (ingest, pricing, enforcement). */
  eventWindow: EventWindow;
  /** How long attribution waits for an account's first snapshot (pricing, enforcement). */
  attributionGraceMs: number;
  pricing: {
    deadlineMs: number;
    schedule: string;
    /** A provider's cost endpoint failing this long raises a `cost_endpoint_failing` alert. */
    endpointFailingAfterMs: number;
  };
  /**
   * The chdb server's password: NANOBILL_CHDB_SERVER_PASSWORD, or the file
   * NANOBILL_CHDB_SERVER_PASSWORD_FILE (a mounted secret); neither: generated under the data
   * directory.
   */
  chdbServer: { password: string | undefined; passwordFile: string | undefined };
  /** Waits before restarting a stopped Kafka consumer: the first, doubling up to the max. */
  consumerRestartDelayMs: { first: number; max: number };
  /** Between two audits of the books by the pipeline; 0: none. */
  audit: { intervalMs: number };
}

const SecuredEnv = Env.superRefine((e, ctx) => {
  if (e.NANOBILL_OPS_PORT !== 0 && e.NANOBILL_OPS_PORT === e.PORT) {
    ctx.addIssue({
      code: 'custom',
      path: ['NANOBILL_OPS_PORT'],
      message: 'must differ from PORT (operations endpoints stay off the API port)',
    });
  }
  if (
    e.NANOBILL_CHDB_SERVER_PASSWORD !== undefined &&
    e.NANOBILL_CHDB_SERVER_PASSWORD_FILE !== undefined
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['NANOBILL_CHDB_SERVER_PASSWORD'],
      message:
        'at most one of NANOBILL_CHDB_SERVER_PASSWORD and NANOBILL_CHDB_SERVER_PASSWORD_FILE',
    });
  }
  if (e.NANOBILL_FINANCE_PASSWORD !== undefined && e.NANOBILL_FINANCE_PASSWORD_FILE !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['NANOBILL_FINANCE_PASSWORD'],
      message: 'at most one of NANOBILL_FINANCE_PASSWORD and NANOBILL_FINANCE_PASSWORD_FILE',
    });
  }
  if (e.NANOBILL_CONSUMER_RESTART_FIRST_MS > e.NANOBILL_CONSUMER_RESTART_MAX_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['NANOBILL_CONSUMER_RESTART_FIRST_MS'],
      message: 'must not exceed NANOBILL_CONSUMER_RESTART_MAX_MS',
    });
  }
  if (e.KAFKA_SASL_MECHANISM === undefined) return;
  if (refusesCleartextSasl(kafkaSecurityOf(e))) {
    ctx.addIssue({ code: 'custom', path: ['KAFKA_SSL'], message: SASL_CLEARTEXT_REFUSAL });
  }
  if (e.KAFKA_SASL_USERNAME === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['KAFKA_SASL_USERNAME'],
      message: 'required with KAFKA_SASL_MECHANISM',
    });
  }
  if ((e.KAFKA_SASL_PASSWORD === undefined) === (e.KAFKA_SASL_PASSWORD_FILE === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['KAFKA_SASL_PASSWORD'],
      message:
        'exactly one of KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE with KAFKA_SASL_MECHANISM',
    });
  }
});

function kafkaSecurityOf(e: z.infer<typeof Env>): KafkaSecurity {
  return {
    ssl: e.KAFKA_SSL === 'true',
    caFile: e.KAFKA_SSL_CA_FILE,
    sasl:
      e.KAFKA_SASL_MECHANISM === undefined
        ? undefined
        : {
            mechanism: e.KAFKA_SASL_MECHANISM,
            username: e.KAFKA_SASL_USERNAME!,
            password: e.KAFKA_SASL_PASSWORD,
            passwordFile: e.KAFKA_SASL_PASSWORD_FILE,
          },
    allowCleartext: e.KAFKA_SASL_ALLOW_CLEARTEXT === 'true',
  };
}

/** Reads the environment; a bad value fails with a message that names the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = SecuredEnv.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return {
    kafkaBrokers: e.KAFKA_BROKERS,
    localKafkaPort: e.KAFKA_PORT,
    clickhouseUrl: e.CLICKHOUSE_URL,
    clickhouseFinanceUrl: e.CLICKHOUSE_FINANCE_URL,
    financePassword: {
      value: e.NANOBILL_FINANCE_PASSWORD,
      file: e.NANOBILL_FINANCE_PASSWORD_FILE,
    },
    dataDir: resolve(e.NANOBILL_DATA_DIR),
    port: e.PORT,
    host: e.HOST,
    ops: { port: e.NANOBILL_OPS_PORT, host: e.NANOBILL_OPS_HOST },
    api: {
      trustProxy: e.NANOBILL_TRUST_PROXY,
      ratePerAddress: e.NANOBILL_API_RATE_PER_ADDRESS,
      ratePerToken: e.NANOBILL_API_RATE_PER_TOKEN,
      tokenCacheTtlMs: e.NANOBILL_TOKEN_CACHE_TTL_MS,
    },
    tokens: { defaultExpiryDays: e.NANOBILL_TOKEN_DEFAULT_EXPIRY_DAYS },
    kafkaSecurity: kafkaSecurityOf(e),
    requestsPartitions: e.NANOBILL_REQUESTS_PARTITIONS,
    ingest: { maxRows: e.NANOBILL_INGEST_MAX_ROWS, maxWaitMs: e.NANOBILL_INGEST_MAX_WAIT_MS },
    providersFile: e.NANOBILL_PROVIDERS_FILE,
    webhooks: {
      caFile: e.NANOBILL_WEBHOOK_CA_FILE,
      opsUrl: e.NANOBILL_OPS_WEBHOOK_URL,
      opsSecret: e.NANOBILL_OPS_WEBHOOK_SECRET,
      opsSecretFile: e.NANOBILL_OPS_WEBHOOK_SECRET_FILE,
      allowNetworks: e.NANOBILL_WEBHOOK_ALLOW_NETWORKS,
    },
    secretsKey: { key: e.NANOBILL_SECRETS_KEY, file: e.NANOBILL_SECRETS_KEY_FILE },
    eventWindow: {
      maxAgeMs: e.NANOBILL_EVENT_MAX_AGE_MS,
      maxAheadMs: e.NANOBILL_EVENT_MAX_AHEAD_MS,
    },
    attributionGraceMs: e.NANOBILL_ATTRIBUTION_GRACE_MS,
    pricing: {
      deadlineMs: e.NANOBILL_PRICING_DEADLINE_MS,
      schedule: e.NANOBILL_PRICING_SCHEDULE,
      endpointFailingAfterMs: e.NANOBILL_COST_ENDPOINT_FAILING_AFTER_MS,
    },
    chdbServer: {
      password: e.NANOBILL_CHDB_SERVER_PASSWORD,
      passwordFile: e.NANOBILL_CHDB_SERVER_PASSWORD_FILE,
    },
    consumerRestartDelayMs: {
      first: e.NANOBILL_CONSUMER_RESTART_FIRST_MS,
      max: e.NANOBILL_CONSUMER_RESTART_MAX_MS,
    },
    audit: { intervalMs: e.NANOBILL_AUDIT_INTERVAL_MS },
  };
}
