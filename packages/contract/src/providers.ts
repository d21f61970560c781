/** The providers of the seed's partner table. The accepted set is configuration; this is its default. */
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

/** hf-inference is priced locally from compute time × hardware price (PRODUCT.md §4). */
export const HF_INFERENCE = 'hf-inference';
