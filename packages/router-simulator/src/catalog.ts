import type { DEFAULT_PROVIDERS } from '@nanobill/contract';

/**
 * What each partner provider of the router (docs/contract.md §10) serves, with plausible HF model
 * ids. Shaped after the router documentation's `providersMapping` examples; it is simulation
 * data, not a price list. Model lists are ordered by popularity (the first is picked most often).
 */
export type Provider = (typeof DEFAULT_PROVIDERS)[number];

/** Tasks whose events carry `usage` (chat completion, LLM and VLM). */
export const LLM_TASKS: ReadonlySet<string> = new Set(['conversational', 'image-text-to-text']);

/**
 * How a provider names a model when the catalog gives no explicit id: `same` keeps the HF id,
 * `lower` lowercases it, `name`/`name-lower` keep the part after the `/`, `fireworks` is
 * `accounts/fireworks/models/<name-lower>`.
 */
export type ProviderModelIdStyle = 'same' | 'lower' | 'name' | 'name-lower' | 'fireworks';

/** An HF model id, or `[hfModelId, providerModelId]` when the provider's id is irregular. */
export type ModelEntry = string | readonly [modelId: string, providerModelId: string];

export interface TaskEntry {
  weight: number;
  models: readonly ModelEntry[];
}

export interface ProviderEntry {
  /** Relative share of the router's traffic. */
  weight: number;
  style: ProviderModelIdStyle;
  tasks: Readonly<Record<string, TaskEntry>>;
}

const GPT_OSS = ['openai/gpt-oss-120b', 'openai/gpt-oss-20b'] as const;
const LLAMA_33 = 'meta-llama/Llama-3.3-70B-Instruct';
const SCOUT = 'meta-llama/Llama-4-Scout-17B-16E-Instruct';
const MAVERICK = 'meta-llama/Llama-4-Maverick-17B-128E-Instruct';
const DS_V3 = 'deepseek-ai/DeepSeek-V3-0324';
const DS_R1 = 'deepseek-ai/DeepSeek-R1-0528';
const FLUX_DEV = 'black-forest-labs/FLUX.1-dev';
const FLUX_SCHNELL = 'black-forest-labs/FLUX.1-schnell';
const SDXL = 'stabilityai/stable-diffusion-xl-base-1.0';
const WHISPER = 'openai/whisper-large-v3';

export const CATALOG: Readonly<Record<Provider, ProviderEntry>> = {
  cerebras: {
    weight: 7,
    style: 'name-lower',
    tasks: {
      conversational: {
        weight: 1,
        models: [
          GPT_OSS[0],
          LLAMA_33,
          'Qwen/Qwen3-235B-A22B-Instruct-2507',
          'Qwen/Qwen3-32B',
          'zai-org/GLM-4.6',
          SCOUT,
        ],
      },
    },
  },
  cohere: {
    weight: 2,
    style: 'name-lower',
    tasks: {
      conversational: {
        weight: 80,
        models: [
          ['CohereLabs/c4ai-command-a-03-2025', 'command-a-03-2025'],
          ['CohereLabs/aya-expanse-32b', 'c4ai-aya-expanse-32b'],
          ['CohereLabs/c4ai-command-r7b-12-2024', 'command-r7b-12-2024'],
        ],
      },
      'image-text-to-text': {
        weight: 20,
        models: [
          ['CohereLabs/aya-vision-32b', 'c4ai-aya-vision-32b'],
          'CohereLabs/command-a-vision-07-2025',
        ],
      },
    },
  },
  'fal-ai': {
    weight: 6,
    style: 'same',
    tasks: {
      'text-to-image': {
        weight: 65,
        models: [
          [FLUX_DEV, 'fal-ai/flux/dev'],
          [FLUX_SCHNELL, 'fal-ai/flux/schnell'],
          ['Qwen/Qwen-Image', 'fal-ai/qwen-image'],
          ['tencent/HunyuanImage-3.0', 'fal-ai/hunyuan-image/v3/text-to-image'],
          ['stabilityai/stable-diffusion-3.5-large', 'fal-ai/stable-diffusion-v35-large'],
        ],
      },
      'text-to-video': {
        weight: 15,
        models: [
          ['Wan-AI/Wan2.2-T2V-A14B', 'fal-ai/wan/v2.2-a14b/text-to-video'],
          ['meituan-longcat/LongCat-Video', 'fal-ai/longcat-video/text-to-video/480p'],
          ['tencent/HunyuanVideo', 'fal-ai/hunyuan-video'],
        ],
      },
      'automatic-speech-recognition': { weight: 20, models: [[WHISPER, 'fal-ai/whisper']] },
    },
  },
  'featherless-ai': {
    weight: 3,
    style: 'same',
    tasks: {
      conversational: {
        weight: 85,
        models: [
          'inclusionAI/Ling-1T',
          'meta-llama/Llama-3.1-8B-Instruct',
          'Qwen/Qwen2.5-72B-Instruct',
          'mistralai/Mistral-7B-Instruct-v0.3',
          'deepseek-ai/DeepSeek-R1-Distill-Llama-70B',
        ],
      },
      'image-text-to-text': {
        weight: 15,
        models: ['google/gemma-3-27b-it', 'Qwen/Qwen2.5-VL-32B-Instruct'],
      },
    },
  },
  'fireworks-ai': {
    weight: 10,
    style: 'fireworks',
    tasks: {
      conversational: {
        weight: 88,
        models: [
          ...GPT_OSS,
          DS_V3,
          [LLAMA_33, 'accounts/fireworks/models/llama-v3p3-70b-instruct'],
          'moonshotai/Kimi-K2-Instruct-0905',
          'Qwen/Qwen3-235B-A22B-Instruct-2507',
        ],
      },
      'image-text-to-text': {
        weight: 12,
        models: [
          [SCOUT, 'accounts/fireworks/models/llama4-scout-instruct-basic'],
          'Qwen/Qwen2.5-VL-32B-Instruct',
        ],
      },
    },
  },
  groq: {
    weight: 10,
    style: 'lower',
    tasks: {
      conversational: {
        weight: 85,
        models: [
          ...GPT_OSS,
          [LLAMA_33, 'llama-3.3-70b-versatile'],
          ['meta-llama/Llama-3.1-8B-Instruct', 'llama-3.1-8b-instant'],
          'moonshotai/Kimi-K2-Instruct-0905',
          'Qwen/Qwen3-32B',
        ],
      },
      'image-text-to-text': { weight: 15, models: [SCOUT, MAVERICK] },
    },
  },
  'hf-inference': {
    weight: 9,
    style: 'same',
    tasks: {
      conversational: {
        weight: 18,
        models: [
          'katanemo/Arch-Router-1.5B',
          'HuggingFaceTB/SmolLM3-3B',
          'meta-llama/Llama-3.2-1B-Instruct',
        ],
      },
      'image-text-to-text': { weight: 4, models: ['HuggingFaceTB/SmolVLM2-2.2B-Instruct'] },
      'feature-extraction': {
        weight: 24,
        models: [
          'BAAI/bge-m3',
          'intfloat/multilingual-e5-large',
          'sentence-transformers/all-MiniLM-L6-v2',
          'BAAI/bge-small-en-v1.5',
        ],
      },
      'text-to-image': { weight: 8, models: [FLUX_DEV, SDXL] },
      'automatic-speech-recognition': {
        weight: 7,
        models: [WHISPER, 'openai/whisper-large-v3-turbo'],
      },
      'text-classification': {
        weight: 12,
        models: [
          'distilbert/distilbert-base-uncased-finetuned-sst-2-english',
          'cardiffnlp/twitter-roberta-base-sentiment-latest',
          'ProsusAI/finbert',
        ],
      },
      'token-classification': { weight: 4, models: ['dslim/bert-base-NER'] },
      'zero-shot-classification': { weight: 4, models: ['facebook/bart-large-mnli'] },
      summarization: { weight: 4, models: ['facebook/bart-large-cnn'] },
      translation: { weight: 3, models: ['google-t5/t5-small', 'Helsinki-NLP/opus-mt-en-fr'] },
      'question-answering': { weight: 3, models: ['deepset/roberta-base-squad2'] },
      'fill-mask': { weight: 2, models: ['google-bert/bert-base-uncased'] },
      'table-question-answering': { weight: 1, models: ['google/tapas-base-finetuned-wtq'] },
      'image-classification': {
        weight: 4,
        models: ['Falconsai/nsfw_image_detection', 'google/vit-base-patch16-224'],
      },
      'object-detection': { weight: 1, models: ['facebook/detr-resnet-50'] },
      'image-segmentation': { weight: 1, models: ['nvidia/segformer-b0-finetuned-ade-512-512'] },
    },
  },
  hyperbolic: {
    weight: 4,
    style: 'same',
    tasks: {
      conversational: {
        weight: 85,
        models: [DS_V3, LLAMA_33, GPT_OSS[0], 'Qwen/Qwen3-Coder-480B-A35B-Instruct', DS_R1],
      },
      'image-text-to-text': {
        weight: 15,
        models: ['Qwen/Qwen2.5-VL-7B-Instruct', 'Qwen/Qwen2.5-VL-72B-Instruct'],
      },
    },
  },
  nebius: {
    weight: 8,
    style: 'same',
    tasks: {
      conversational: {
        weight: 70,
        models: [
          GPT_OSS[0],
          DS_V3,
          'Qwen/Qwen3-235B-A22B',
          LLAMA_33,
          'moonshotai/Kimi-K2-Instruct',
        ],
      },
      'image-text-to-text': {
        weight: 8,
        models: [
          ['google/gemma-3-27b-it', 'google/gemma-3-27b-it-fast'],
          'Qwen/Qwen2.5-VL-72B-Instruct',
        ],
      },
      'feature-extraction': {
        weight: 14,
        models: ['Qwen/Qwen3-Embedding-8B', 'BAAI/bge-multilingual-gemma2', 'BAAI/bge-en-icl'],
      },
      'text-to-image': {
        weight: 8,
        models: [
          [FLUX_DEV, 'black-forest-labs/flux-dev'],
          [FLUX_SCHNELL, 'black-forest-labs/flux-schnell'],
          [SDXL, 'stability-ai/sdxl'],
        ],
      },
    },
  },
  novita: {
    weight: 9,
    style: 'lower',
    tasks: {
      conversational: {
        weight: 80,
        models: [
          [DS_V3, 'deepseek/deepseek-v3-0324'],
          ['MiniMaxAI/MiniMax-M2', 'minimax/minimax-m2'],
          LLAMA_33,
          GPT_OSS[0],
          'zai-org/GLM-4.5',
          [DS_R1, 'deepseek/deepseek-r1-0528'],
          ['Qwen/Qwen3-235B-A22B', 'qwen/qwen3-235b-a22b-fp8'],
        ],
      },
      'image-text-to-text': {
        weight: 12,
        models: ['Qwen/Qwen3-VL-8B-Instruct', 'Qwen/Qwen2.5-VL-72B-Instruct'],
      },
      'text-to-video': {
        weight: 8,
        models: [
          ['Wan-AI/Wan2.1-T2V-14B', 'wan-t2v'],
          ['Wan-AI/Wan2.2-T2V-A14B', 'wan-2.2-t2v'],
        ],
      },
    },
  },
  nscale: {
    weight: 2,
    style: 'same',
    tasks: {
      conversational: {
        weight: 80,
        models: [
          ...GPT_OSS,
          LLAMA_33,
          'Qwen/Qwen3-235B-A22B',
          'deepseek-ai/DeepSeek-R1-Distill-Llama-70B',
        ],
      },
      'image-text-to-text': { weight: 10, models: [SCOUT] },
      'text-to-image': { weight: 10, models: [SDXL, FLUX_SCHNELL] },
    },
  },
  publicai: {
    weight: 1,
    style: 'lower',
    tasks: {
      conversational: {
        weight: 1,
        models: [
          ['swiss-ai/Apertus-8B-Instruct-2509', 'swiss-ai/apertus-8b-instruct'],
          ['swiss-ai/Apertus-70B-Instruct-2509', 'swiss-ai/apertus-70b-instruct'],
        ],
      },
    },
  },
  replicate: {
    weight: 3,
    style: 'lower',
    tasks: {
      'text-to-image': {
        weight: 60,
        models: [
          [FLUX_DEV, 'black-forest-labs/flux-dev'],
          [FLUX_SCHNELL, 'black-forest-labs/flux-schnell'],
          ['tencent/HunyuanImage-3.0', 'tencent/hunyuan-image-3'],
          ['stabilityai/stable-diffusion-3.5-large', 'stability-ai/stable-diffusion-3.5-large'],
        ],
      },
      'text-to-video': {
        weight: 20,
        models: [
          ['Wan-AI/Wan2.2-TI2V-5B', 'wan-video/wan-2.2-5b-fast'],
          ['Wan-AI/Wan2.1-T2V-14B', 'wavespeedai/wan-2.1-t2v-480p'],
        ],
      },
      'automatic-speech-recognition': {
        weight: 20,
        models: [
          [
            WHISPER,
            'openai/whisper:8099696689d249cf8b122d833c36ac3f75505c666a395ca40ef26f68e7d3d16e',
          ],
        ],
      },
    },
  },
  sambanova: {
    weight: 6,
    style: 'name',
    tasks: {
      conversational: {
        weight: 88,
        models: [
          GPT_OSS[0],
          [LLAMA_33, 'Meta-Llama-3.3-70B-Instruct'],
          DS_V3,
          DS_R1,
          'Qwen/Qwen3-32B',
          MAVERICK,
        ],
      },
      'feature-extraction': {
        weight: 12,
        models: [['intfloat/e5-mistral-7b-instruct', 'E5-Mistral-7B-Instruct']],
      },
    },
  },
  scaleway: {
    weight: 2,
    style: 'name-lower',
    tasks: {
      conversational: {
        weight: 85,
        models: [
          GPT_OSS[0],
          LLAMA_33,
          'mistralai/Mistral-Small-3.2-24B-Instruct-2506',
          'Qwen/Qwen3-235B-A22B-Instruct-2507',
          'deepseek-ai/DeepSeek-R1-Distill-Llama-70B',
        ],
      },
      'feature-extraction': {
        weight: 15,
        models: ['BAAI/bge-multilingual-gemma2', 'Qwen/Qwen3-Embedding-8B'],
      },
    },
  },
  together: {
    weight: 12,
    style: 'same',
    tasks: {
      conversational: {
        weight: 80,
        models: [
          ...GPT_OSS,
          [DS_V3, 'deepseek-ai/DeepSeek-V3'],
          [LLAMA_33, 'meta-llama/Llama-3.3-70B-Instruct-Turbo'],
          ['Qwen/Qwen3-235B-A22B', 'Qwen/Qwen3-235B-A22B-fp8-tput'],
          'moonshotai/Kimi-K2-Instruct',
          'zai-org/GLM-4.5',
        ],
      },
      'image-text-to-text': {
        weight: 10,
        models: [SCOUT, [MAVERICK, 'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8']],
      },
      'text-to-image': {
        weight: 10,
        models: [FLUX_DEV, FLUX_SCHNELL, 'black-forest-labs/FLUX.1-Krea-dev'],
      },
    },
  },
  wavespeed: {
    weight: 2,
    style: 'same',
    tasks: {
      'text-to-image': {
        weight: 70,
        models: [
          [FLUX_DEV, 'wavespeed-ai/flux-dev'],
          ['Qwen/Qwen-Image', 'wavespeed-ai/qwen-image/text-to-image'],
          [FLUX_SCHNELL, 'wavespeed-ai/flux-schnell'],
        ],
      },
      'text-to-video': {
        weight: 30,
        models: [
          ['Wan-AI/Wan2.2-TI2V-5B', 'wavespeed-ai/wan-2.2/t2v-5b-720p'],
          ['Wan-AI/Wan2.1-T2V-14B', 'wavespeed-ai/wan-2.1/t2v-480p'],
        ],
      },
    },
  },
  'zai-org': {
    weight: 3,
    style: 'name-lower',
    tasks: {
      conversational: {
        weight: 85,
        models: ['zai-org/GLM-4.6', 'zai-org/GLM-4.5', 'zai-org/GLM-4.5-Air'],
      },
      'image-text-to-text': { weight: 15, models: ['zai-org/GLM-4.5V'] },
    },
  },
};

/** hf-inference hardware flavours (the hardware price table itself is configuration, §4). */
export const HF_INFERENCE_HARDWARE = [
  'cpu-basic',
  'cpu-upgrade',
  'nvidia-t4',
  'nvidia-a10g',
  'nvidia-l4',
  'nvidia-a100',
] as const;

export type HfHardware = (typeof HF_INFERENCE_HARDWARE)[number];

/** Per hf-inference task: the hardware it runs on and a median compute time (log-normal). */
export const HF_INFERENCE_COMPUTE: Readonly<
  Record<string, { hardware: readonly HfHardware[]; medianMs: number }>
> = {
  conversational: { hardware: ['nvidia-a10g', 'nvidia-l4', 'nvidia-a100'], medianMs: 2500 },
  'image-text-to-text': { hardware: ['nvidia-a10g', 'nvidia-l4'], medianMs: 3000 },
  'feature-extraction': { hardware: ['cpu-upgrade', 'nvidia-t4', 'nvidia-l4'], medianMs: 60 },
  'text-to-image': { hardware: ['nvidia-a100', 'nvidia-l4', 'nvidia-a10g'], medianMs: 9000 },
  'automatic-speech-recognition': {
    hardware: ['nvidia-a10g', 'nvidia-t4', 'nvidia-l4'],
    medianMs: 2200,
  },
  'text-classification': { hardware: ['cpu-basic', 'cpu-upgrade', 'nvidia-t4'], medianMs: 35 },
  'token-classification': { hardware: ['cpu-basic', 'cpu-upgrade'], medianMs: 45 },
  'zero-shot-classification': { hardware: ['cpu-upgrade', 'nvidia-t4'], medianMs: 180 },
  summarization: { hardware: ['nvidia-t4', 'cpu-upgrade'], medianMs: 900 },
  translation: { hardware: ['cpu-upgrade', 'cpu-basic'], medianMs: 250 },
  'question-answering': { hardware: ['cpu-basic', 'cpu-upgrade'], medianMs: 60 },
  'fill-mask': { hardware: ['cpu-basic'], medianMs: 30 },
  'table-question-answering': { hardware: ['cpu-upgrade'], medianMs: 200 },
  'image-classification': { hardware: ['cpu-upgrade', 'nvidia-t4'], medianMs: 80 },
  'object-detection': { hardware: ['nvidia-t4', 'cpu-upgrade'], medianMs: 250 },
  'image-segmentation': { hardware: ['nvidia-t4'], medianMs: 400 },
};

const FALLBACK_COMPUTE = { hardware: ['cpu-basic'] as const, medianMs: 100 };

export function hfInferenceCompute(task: string): {
  hardware: readonly HfHardware[];
  medianMs: number;
} {
  return HF_INFERENCE_COMPUTE[task] ?? FALLBACK_COMPUTE;
}

export function modelIdOf(entry: ModelEntry): string {
  return typeof entry === 'string' ? entry : entry[0];
}

/** The id the provider uses for a model: the catalog's explicit one, else the provider's style. */
export function providerModelIdOf(provider: Provider, entry: ModelEntry): string {
  if (typeof entry !== 'string') return entry[1];
  const name = entry.slice(entry.indexOf('/') + 1);
  switch (CATALOG[provider].style) {
    case 'same':
      return entry;
    case 'lower':
      return entry.toLowerCase();
    case 'name':
      return name;
    case 'name-lower':
      return name.toLowerCase();
    case 'fireworks':
      return `accounts/fireworks/models/${name.toLowerCase()}`;
  }
}
