import { resolve } from 'node:path';
import { z } from 'zod';

const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port')).min(1));

const Env = z.object({
  KAFKA_BROKERS: brokerList.optional(),
  KAFKA_PORT: z.coerce.number().int().min(1).max(65535).default(9092),
  CLICKHOUSE_URL: z.url().optional(),
  NANOBILL_DATA_DIR: z.string().min(1).default('./.data'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
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
  NANOBILL_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  NANOBILL_WEBHOOK_SECRET_FILE: z.string().min(1).optional(),
  NANOBILL_WEBHOOK_CA_FILE: z.string().min(1).optional(),
  NANOBILL_OPS_WEBHOOK_URL: z
    .url({ protocol: /^https$/, error: 'must be an https URL' })
    .optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  KAFKA_SSL: z.enum(['true', 'false']).default('false'),
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD_FILE: z.string().min(1).optional(),
  NANOBILL_COST_ENDPOINT_FAILING_AFTER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5 * 60 * 1000),
  // Supervision of Kafka consumers: one that kafkajs does not restart after a crash is
  // restarted after FIRST ms, the wait doubling after each failed attempt up to MAX ms.
  NANOBILL_CONSUMER_RESTART_FIRST_MS: z.coerce.number().int().min(1).max(600_000).default(1_000),
  NANOBILL_CONSUMER_RESTART_MAX_MS: z.coerce.number().int().min(1).max(3_600_000).default(60_000),
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
}

export interface Config {
  /** Absent: the local broker that the project's scripts start on 127.0.0.1. */
  kafkaBrokers: string[] | undefined;
  /** Port of that local broker (its controller listens on the next one). */
  localKafkaPort: number;
  /** Absent: embedded ClickHouse (chdb) under `dataDir/clickhouse`. */
  clickhouseUrl: string | undefined;
  dataDir: string;
  port: number;
  /** Address the HTTP server listens on (0.0.0.0 in a container). */
  host: string;
  kafkaSecurity: KafkaSecurity;
  requestsPartitions: number;
  ingest: { maxRows: number; maxWaitMs: number };
  /** Absent: the local stack's file, `infra/providers/local.json`. */
  providersFile: string | undefined;
  /**
   * Alert webhooks: the signing secret (from NANOBILL_WEBHOOK_SECRET or the file
   * NANOBILL_WEBHOOK_SECRET_FILE; absent: the local stack's, kept under the data directory),
   * an extra trusted CA file, and the operations webhook.
   */
  webhooks: {
    secret: string | undefined;
    secretFile: string | undefined;
    caFile: string | undefined;
    opsUrl: string | undefined;
  };
  pricing: {
    deadlineMs: number;
    schedule: string;
    /** A provider's cost endpoint failing this long raises a `cost_endpoint_failing` alert. */
    endpointFailingAfterMs: number;
  };
  /** Waits before restarting a stopped Kafka consumer: the first, doubling up to the max. */
  consumerRestartDelayMs: { first: number; max: number };
}

const SecuredEnv = Env.superRefine((e, ctx) => {
  if (e.NANOBILL_CONSUMER_RESTART_FIRST_MS > e.NANOBILL_CONSUMER_RESTART_MAX_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['NANOBILL_CONSUMER_RESTART_FIRST_MS'],
      message: 'must not exceed NANOBILL_CONSUMER_RESTART_MAX_MS',
    });
  }
  if (e.KAFKA_SASL_MECHANISM === undefined) return;
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
    dataDir: resolve(e.NANOBILL_DATA_DIR),
    port: e.PORT,
    host: e.HOST,
    kafkaSecurity: {
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
    },
    requestsPartitions: e.NANOBILL_REQUESTS_PARTITIONS,
    ingest: { maxRows: e.NANOBILL_INGEST_MAX_ROWS, maxWaitMs: e.NANOBILL_INGEST_MAX_WAIT_MS },
    providersFile: e.NANOBILL_PROVIDERS_FILE,
    webhooks: {
      secret: e.NANOBILL_WEBHOOK_SECRET,
      secretFile: e.NANOBILL_WEBHOOK_SECRET_FILE,
      caFile: e.NANOBILL_WEBHOOK_CA_FILE,
      opsUrl: e.NANOBILL_OPS_WEBHOOK_URL,
    },
    pricing: {
      deadlineMs: e.NANOBILL_PRICING_DEADLINE_MS,
      schedule: e.NANOBILL_PRICING_SCHEDULE,
      endpointFailingAfterMs: e.NANOBILL_COST_ENDPOINT_FAILING_AFTER_MS,
    },
    consumerRestartDelayMs: {
      first: e.NANOBILL_CONSUMER_RESTART_FIRST_MS,
      max: e.NANOBILL_CONSUMER_RESTART_MAX_MS,
    },
  };
}
