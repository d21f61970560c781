// The provider simulator in a process of its own, as real providers are: prints its base URL.
import { DEFAULT_PROVIDERS, HF_INFERENCE } from '@nanobill/contract';
import { startProviderSimulator } from '@nanobill/provider-simulator';

const remote = DEFAULT_PROVIDERS.filter((p) => p !== HF_INFERENCE);
const simulator = await startProviderSimulator({
  providers: Object.fromEntries(remote.map((p) => [p, { token: `bench-${p}` }])),
});
console.log(JSON.stringify({ url: simulator.url }));
process.on('message', (message) => {
  if (message === 'count') process.send?.(simulator.calls().length);
});
process.on('disconnect', () => void simulator.close().then(() => process.exit(0)));
