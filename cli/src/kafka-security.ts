import { readFileSync } from 'node:fs';
import type { SASLOptions } from '@nanobill/kafka';
import type { KafkaSecurity } from '@nanobill/config';

/** kafkajs' `ssl` and `sasl` options from the configuration, secret files read here. */
export function kafkaSecurityOptions(security: KafkaSecurity): {
  ssl?: boolean | { ca: string };
  sasl?: SASLOptions;
} {
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
