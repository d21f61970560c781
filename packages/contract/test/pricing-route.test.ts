import { describe, expect, it } from 'vitest';
import {
  decideRequest,
  pricingKey,
  requestClassifier,
  requestLabel,
  type RoutedRequestEvent,
} from '../src/index.js';
const event: RoutedRequestEvent = {
  schemaVersion: 1,
  requestId: 'r1',
  timestamp: '2026-11-25T12:00:00.000Z',
  userId: 'u1',
  provider: 'groq',
  model: 'openai/gpt-oss-120b',
  task: 'conversational',
  billingMode: 'routed',
  providerRequestId: 'groq-1',
  status: 200,
};

describe('decideRequest', () => {
  it('asks the cost endpoint for a routed request that reached the provider, under its key', () => {
    expect(decideRequest(event)).toEqual({
      action: 'price',
      route: 'cost_endpoint',
      key: pricingKey('groq', 'groq-1'),
      event,
    });
  });
  it('never prices custom-key requests', () => {
    const custom = { ...event, billingMode: 'custom_key' as const };
    expect(decideRequest(custom)).toEqual({ action: 'skip', reason: 'custom_key', event: custom });
  });
  it('never prices requests that did not reach a provider', () => {
    const unreached = { ...event, providerRequestId: undefined };
    expect(decideRequest(unreached)).toEqual({
      action: 'skip',
      reason: 'not_reached',
      event: unreached,
    });
  });
  it('prices hf-inference locally', () => {
    expect(decideRequest({ ...event, provider: 'hf-inference' })).toMatchObject({
      action: 'price',
      route: 'compute_time',
      key: pricingKey('hf-inference', 'groq-1'),
    });
  });
});

describe('requestClassifier', () => {
  const classify = requestClassifier({ now: () => Date.parse(event.timestamp) });
  const message = (value: object | string) => ({
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  });

  it("rejects with the decoder's code, and labels it invalid", () => {
    const classified = classify(message('{'));
    expect(classified).toMatchObject({ ok: false, code: 'not_json' });
    expect(requestLabel(classified)).toBe('invalid');
  });

  it('labels each decision by its reason or route', () => {
    const labels = [
      event,
      { ...event, billingMode: 'custom_key' },
      { ...event, providerRequestId: undefined },
      { ...event, provider: 'hf-inference', computeTimeMs: 10, hardware: 'cpu-basic' },
    ].map((e) => requestLabel(classify(message(e))));
    expect(labels).toEqual([
      'cost_endpoint',
      'skip_custom_key',
      'skip_not_reached',
      'compute_time',
    ]);
  });

  it('is the decoder, then the rule', () => {
    const classified = classify(message(event));
    expect(classified).toEqual({ ok: true, value: decideRequest(event) });
  });
});

describe('pricingKey', () => {
  it('is one key per provider and provider request id', () => {
    expect(pricingKey('groq', 'a')).toBe(pricingKey('groq', 'a'));
    expect(pricingKey('groq', 'a')).not.toBe(pricingKey('groq', 'b'));
    // Provider names are [a-z0-9-] (the providers file refuses others): no separator inside.
    expect(pricingKey('groq', 'x-1')).not.toBe(pricingKey('groq-x', '1'));
  });
});
