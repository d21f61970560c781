import { describe, expect, it } from 'vitest';
import { pricingKey, pricingRoute, type RoutedRequestEvent } from '../src/index.js';
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

describe('pricingRoute', () => {
  it('asks the cost endpoint for a routed request that reached the provider', () => {
    expect(pricingRoute(event)).toEqual({ route: 'cost_endpoint' });
  });
  it('never prices custom-key requests', () => {
    expect(pricingRoute({ ...event, billingMode: 'custom_key' })).toEqual({
      route: 'skip',
      reason: 'custom_key',
    });
  });
  it('never prices requests that did not reach a provider', () => {
    expect(pricingRoute({ ...event, providerRequestId: undefined })).toEqual({
      route: 'skip',
      reason: 'not_reached',
    });
  });
  it('prices hf-inference locally', () => {
    expect(pricingRoute({ ...event, provider: 'hf-inference' })).toEqual({ route: 'compute_time' });
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
