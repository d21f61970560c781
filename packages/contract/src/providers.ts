/** The router's partner providers (docs/contract.md §10): the default of a configurable set. */
export const DEFAULT_PROVIDERS = [
  'cerebras',
  'cohere',
  'fal-ai',
  'featherless-ai',
  'fireworks-ai',
  'groq',
  'hf-inference',
  'hyperbolic',
  'nebius',
  'novita',
  'nscale',
  'publicai',
  'replicate',
  'sambanova',
  'scaleway',
  'together',
  'wavespeed',
  'zai-org',
] as const;

/** hf-inference is priced locally from compute time × hardware price (docs/contract.md §4). */
export const HF_INFERENCE = 'hf-inference';
