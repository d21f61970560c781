import { z } from 'zod';

/** 2^63 − 1: every amount must fit ClickHouse's Int64. */
export const INT64_MAX = 9_223_372_036_854_775_807n;

/** Nano-USD as a decimal string of digits (no sign, no leading zeros), at most 2^63 − 1. */
export const nanoUsdDigits = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,18})$/, {
    error: 'must be a non-negative integer or a decimal string of digits',
  })
  // Zod runs this check even when the pattern failed: only digits are compared.
  .refine((digits) => !/^[0-9]+$/.test(digits) || BigInt(digits) <= INT64_MAX, {
    error: 'must be at most 2^63 - 1',
  });
