import type { ConnectionOptions } from 'node:tls';
import kafkajs, { type Kafka, type LogEntry, type Producer, type SASLOptions } from 'kafkajs';
import type { Logger } from '@nanobill/observability';

const { Kafka: KafkaClient, logLevel, Partitioners } = kafkajs;

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** TLS to the brokers: true, or options (e.g. `{ ca }` for a private CA). */
  ssl?: boolean | ConnectionOptions;
  sasl?: SASLOptions;
}

/** A kafkajs client whose logs go through pino, at warn and above. */
export function createKafka({ brokers, clientId, logger, ssl, sasl }: KafkaOptions): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new KafkaClient({
    brokers,
    clientId,
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info'](rest, message);
      },
  });
}

export type { Kafka };

/** A producer that waits for every in-sync replica and never creates topics by accident. */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}
