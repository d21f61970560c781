import { z } from 'zod';
import { DEFAULT_OVERLAP_MS, MAX_OVERLAP_MS, type WebhookSecretStore } from '@nanobill/webhooks';

const HOUR_MS = 60 * 60_000;

/** What `nanobill webhooks` asks, directly or through the running process's socket. */
export const WebhooksRequest = z.object({
  action: z.literal('rotate-secret'),
  account: z.string().min(1).max(256),
  overlapHours: z
    .number()
    .min(0)
    .max(MAX_OVERLAP_MS / HOUR_MS)
    .default(DEFAULT_OVERLAP_MS / HOUR_MS),
});
export type WebhooksRequest = z.infer<typeof WebhooksRequest>;

export interface RotatedSecret {
  account: string;
  secret: string;
  /** ISO-8601; null when there was no previous secret or no overlap was asked for. */
  previousValidUntil: string | null;
}

/** Rotates an account's webhook signing secret; the new one is returned (shown once). */
export async function runWebhooks(
  store: WebhookSecretStore,
  request: WebhooksRequest,
): Promise<RotatedSecret> {
  const rotated = await store.rotate(request.account, Math.round(request.overlapHours * HOUR_MS));
  return {
    account: request.account,
    secret: rotated.secret,
    previousValidUntil: rotated.previousValidUntil?.toISOString() ?? null,
  };
}
