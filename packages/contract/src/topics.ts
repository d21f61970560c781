/** Kafka topic names (docs/contract.md §2, §5–§7): the contract with the router and operators. */
export const TOPICS = {
  requests: 'inference.requests.v1',
  requestsDlq: 'inference.requests.dlq.v1',
  accounts: 'billing.accounts.v1',
  accountsDlq: 'billing.accounts.dlq.v1',
  alerts: 'billing.alerts.v1',
  accountStatus: 'billing.account-status.v1',
} as const;

export type TopicKey = keyof typeof TOPICS;
