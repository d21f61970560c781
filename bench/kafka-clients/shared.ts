/** The clients compared, in the first round's order. */
export const CLIENTS = ['kafkajs', 'platformatic', 'confluent'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** Time resolution of the rebalance phase's record of deliveries (ms). */
export const BUCKET_MS = 50;
