import { requestEventDecoder, type Decoded, type RequestMessage } from './decode.js';
import { decideRequest, type RequestDecision } from './pricing-route.js';

/**
 * One message of `inference.requests.v1`, classified: rejected with a code (`ok: false`, for the
 * DLQ), or a valid event skipped with a reason or priced by a route under a key. Ingest, pricing
 * and enforcement all take this one step, so they agree on every message.
 */
export type ClassifiedRequest = Decoded<RequestDecision>;

/** The metric label of a classification: what pricing and enforcement count each event under. */
export type RequestLabel =
  | 'invalid'
  | `skip_${Extract<RequestDecision, { action: 'skip' }>['reason']}`
  | Extract<RequestDecision, { action: 'price' }>['route'];

/** The one decoder of the topic (see `requestEventDecoder`), then the pricing rule. */
export function requestClassifier(
  options: Parameters<typeof requestEventDecoder>[0] = {},
): (message: RequestMessage) => ClassifiedRequest {
  const decode = requestEventDecoder(options);
  return (message) => {
    const decoded = decode(message);
    return decoded.ok ? { ok: true, value: decideRequest(decoded.value) } : decoded;
  };
}

export function requestLabel(classified: ClassifiedRequest): RequestLabel {
  if (!classified.ok) return 'invalid';
  const decision = classified.value;
  return decision.action === 'skip' ? `skip_${decision.reason}` : decision.route;
}
