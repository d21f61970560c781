import { usdToNano } from '@nanobill/money';

export const usd = (dollars: string): bigint => usdToNano(dollars);
