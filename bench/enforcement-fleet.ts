// The benchmark's customers, shared by the bench and its producer process: orgs with spending
// limits and members, and the requests they send. Deterministic for a seed.
import type { RoutedRequestEvent } from '@nanobill/contract';
import { tokenCostNano } from '@nanobill/money';
import { createRng } from '@nanobill/router-simulator';

export const MODEL = 'meta-llama/Llama-3.3-70B-Instruct';
export const PRICING = { input: '0.5', output: '1.5' }; // USD per million tokens, on /v1/models

export interface Org {
  id: string;
  members: string[];
  limit: bigint;
}

/** Seeded, the same in both processes. */
export function random(seed: number): () => number {
  const rng = createRng(seed);
  return () => rng.float();
}

/** `count` team orgs of 3 members, limits spread from $0.20 to $0.60. */
export function fleet(count: number, seed: number): Org[] {
  const rng = random(seed);
  return Array.from({ length: count }, (_, i) => ({
    id: `bench-org-${i}`,
    members: [0, 1, 2].map((m) => `bench-user-${i}-${m}`),
    limit: 200_000_000n + BigInt(Math.floor(rng() * 400)) * 1_000_000n,
  }));
}

/** A request of a random member of a random org, billed to the org; and its estimate. */
export function request(
  orgs: Org[],
  rng: () => number,
  id: string,
  at: Date,
): { event: RoutedRequestEvent; org: Org; estimate: bigint } {
  const org = orgs[Math.floor(rng() * orgs.length)]!;
  const inputTokens = 200 + Math.floor(rng() * 1_800);
  const outputTokens = 50 + Math.floor(rng() * 750);
  return {
    org,
    estimate: tokenCostNano(inputTokens, outputTokens, PRICING),
    event: {
      schemaVersion: 1,
      requestId: id,
      timestamp: at.toISOString(),
      userId: org.members[Math.floor(rng() * org.members.length)]!,
      billTo: org.id,
      provider: 'groq',
      model: MODEL,
      task: 'conversational',
      billingMode: 'routed',
      providerRequestId: `groq-${id}`,
      status: 200,
      usage: { inputTokens, outputTokens },
    },
  };
}
