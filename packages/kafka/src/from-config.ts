import { readFileSync } from 'node:fs';
import type { SASLOptions } from 'kafkajs';
import {
  refusesCleartextSasl,
  SASL_CLEARTEXT_REFUSAL,
  type Config,
  type KafkaSecurity,
} from '@nanobill/config';
import type { Logger } from '@nanobill/observability';
import { createKafka, type Kafka } from './client.js';

/** The Kafka part of nanobill's configuration (docs/operations.md "Configuration": KAFKA_*). */
export type KafkaConfig = Pick<Config, 'kafkaBrokers' | 'localKafkaPort' | 'kafkaSecurity'>;

export interface KafkaFromConfigOptions {
  clientId: string;
  logger: Logger;
  /** Brokers found otherwise (a local broker just started); default: the configured ones. */
  brokers?: string[];
}

/**
 * The one way a command, a service or a benchmark dials the configured Kafka: the configured
 * brokers (or the local one the project's scripts start) with its TLS and SASL settings, so that
 * every client reaches the production broker the same way.
 */
export function kafkaFromConfig(
  config: KafkaConfig,
  { clientId, logger, brokers }: KafkaFromConfigOptions,
): Kafka {
  return createKafka({
    brokers: brokers ?? config.kafkaBrokers ?? [`127.0.0.1:${config.localKafkaPort}`],
    clientId,
    logger,
    ...kafkaSecurityOptions(config.kafkaSecurity),
  });
}

/**
 * kafkajs' `ssl` and `sasl` options from the configuration, secret files read here. A
 * configuration built without loadConfig is held to its rule too: no SASL in clear unless allowed.
 */
export function kafkaSecurityOptions(security: KafkaSecurity): {
  ssl?: boolean | { ca: string };
  sasl?: SASLOptions;
} {
  if (refusesCleartextSasl(security)) throw new Error(SASL_CLEARTEXT_REFUSAL);
  const ssl =
    security.caFile !== undefined
      ? { ca: readFileSync(security.caFile, 'utf8') }
      : security.ssl
        ? true
        : undefined;
  const sasl = security.sasl;
  return {
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined
      ? {}
      : {
          sasl: {
            mechanism: sasl.mechanism,
            username: sasl.username,
            password: sasl.password ?? readFileSync(sasl.passwordFile!, 'utf8').trim(),
          } as SASLOptions,
        }),
  };
}
