import { withDefaultCas } from '@nanobill/tls';
import type { RemoteProvider } from './registry.js';

/**
 * The TLS options of one provider's connections (its cost pool, its price-list fetch): the
 * certificates of its `caFile` on top of the ones every connection trusts. Given to that
 * provider's own dispatcher only, so nothing else in the process trusts them.
 */
export function providerConnectOptions(provider: Pick<RemoteProvider, 'ca'>): {
  ca?: (string | Buffer)[];
} {
  return provider.ca === undefined ? {} : { ca: withDefaultCas(provider.ca) };
}
