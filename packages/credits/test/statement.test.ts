import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { usdToNano } from '@nanobill/money';
import {
  STATEMENT_CSV_COLUMNS,
  quoteCsvField,
  statementLine,
  toCsv,
  type StatementInput,
  type StatementLine,
} from '../src/index.js';

/**
 * A strict RFC 4180 parser, written independently of the code under test: records end in
 * CRLF (the last one too), a quoted field starts with '"' and ends with '"' followed by ',',
 * CRLF or the end; '""' inside one is a quote. Anything else throws.
 */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  const endField = (field: string): void => {
    record.push(field);
    if (text.startsWith('\r\n', i)) {
      records.push(record);
      record = [];
      i += 2;
    } else if (text[i] === ',') {
      i += 1;
    } else {
      throw new Error(`expected ',' or CRLF at ${i}, got ${JSON.stringify(text[i])}`);
    }
  };
  while (i < text.length) {
    if (text[i] === '"') {
      let field = '';
      i += 1;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i += 1;
            break;
          }
        } else {
          field += text[i];
          i += 1;
        }
      }
      endField(field);
    } else {
      let field = '';
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') {
        if (text[i] === '"' || text[i] === '\n') {
          throw new Error(`bare ${JSON.stringify(text[i])} in an unquoted field at ${i}`);
        }
        field += text[i];
        i += 1;
      }
      endField(field);
    }
  }
  if (record.length > 0) throw new Error('last record does not end in CRLF');
  return records;
}

const HEADER =
  'month,account_id,account_kind,plan,gross_usd,credits_granted_usd,credits_applied_usd,payable_usd,written_off_usd,custom_key_requests,status';

const base: StatementInput = {
  month: '2024-03',
  accountId: 'alice',
  accountKind: 'user',
  plan: 'pro',
  gross: 5_000_000_000n,
  grant: 2_000_000_000n,
  payAsYouGo: true,
  customKeyRequests: 7,
  status: 'final',
};

describe('statementLine', () => {
  it('PRO user over the grant', () => {
    expect(statementLine(base)).toEqual({
      month: '2024-03',
      account_id: 'alice',
      account_kind: 'user',
      plan: 'pro',
      gross: 5_000_000_000n,
      credits_granted: 2_000_000_000n,
      credits_applied: 2_000_000_000n,
      payable: 3_000_000_000n,
      written_off: 0n,
      custom_key_requests: 7,
      status: 'final',
    });
  });

  it('free user past the grant: nothing payable, overrun written off', () => {
    const line = statementLine({
      ...base,
      plan: 'free',
      gross: 100_000_250n,
      grant: 100_000_000n,
      payAsYouGo: false,
      status: 'draft',
    });
    expect(line).toMatchObject({
      credits_granted: 100_000_000n,
      credits_applied: 100_000_000n,
      payable: 0n,
      written_off: 250n,
      status: 'draft',
    });
  });

  it('team org within the grant', () => {
    const line = statementLine({
      ...base,
      accountId: 'acme',
      accountKind: 'org',
      plan: 'team',
      gross: 12_345_678_901n,
      grant: 24_000_000_000n,
    });
    expect(line).toMatchObject({
      credits_applied: 12_345_678_901n,
      payable: 0n,
      written_off: 0n,
    });
  });

  it('adds an adjustment to gross before credits', () => {
    // Positive: a late January cost landing in March, partly covered by March's credits.
    const up = statementLine({ ...base, gross: 1_000_000_000n, adjustment: 1_500_000_000n });
    expect(up).toMatchObject({
      gross: 2_500_000_000n,
      credits_applied: 2_000_000_000n,
      payable: 500_000_000n,
    });
    // Negative: a correction in the customer's favour.
    const down = statementLine({ ...base, gross: 3_000_000_000n, adjustment: -500_000_000n });
    expect(down).toMatchObject({
      gross: 2_500_000_000n,
      credits_applied: 2_000_000_000n,
      payable: 500_000_000n,
    });
    // Larger than the month's usage: no credits applied, a negative payable.
    const refund = statementLine({ ...base, gross: 0n, adjustment: -500_000_000n });
    expect(refund).toMatchObject({
      gross: -500_000_000n,
      credits_applied: 0n,
      payable: -500_000_000n,
    });
  });

  it.each<[string, Partial<StatementInput>, RegExp]>([
    ['a bad month', { month: '2024-3' }, /YYYY-MM/],
    ['an empty account id', { accountId: '' }, /accountId/],
    ['a bad kind', { accountKind: 'team' as 'org' }, /account kind/],
    ['an empty plan', { plan: '' }, /plan/],
    ['a negative gross', { gross: -1n }, /gross/],
    ['a number gross', { gross: 1 as unknown as bigint }, /gross/],
    ['a number adjustment', { adjustment: 1 as unknown as bigint }, /adjustment/],
    ['a negative grant', { grant: -1n }, /grant/],
    ['a fractional count', { customKeyRequests: 1.5 }, /custom key requests/],
    ['a negative count', { customKeyRequests: -1 }, /custom key requests/],
    ['a bad status', { status: 'closed' as 'final' }, /status/],
  ])('rejects %s', (_name, patch, message) => {
    expect(() => statementLine({ ...base, ...patch })).toThrow(message);
  });

  it('property: the amounts always reconcile', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.option(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), { nil: undefined }),
        fc.boolean(),
        (gross, grant, adjustment, paygo) => {
          const line = statementLine({ ...base, gross, grant, adjustment, payAsYouGo: paygo });
          expect(line.gross).toBe(gross + (adjustment ?? 0n));
          expect(line.credits_granted).toBe(grant);
          expect(line.credits_applied + line.payable + line.written_off).toBe(line.gross);
          expect(line.credits_applied <= grant).toBe(true);
          if (line.gross >= 0n) {
            expect(line.credits_applied <= line.gross).toBe(true);
            expect(line.payable >= 0n && line.written_off >= 0n).toBe(true);
          }
          if (!paygo) expect(line.payable).toBe(0n);
          if (paygo) expect(line.written_off).toBe(0n);
        },
      ),
    );
  });
});

describe('STATEMENT_CSV_COLUMNS', () => {
  it('is the docs/contract.md §8 order', () => {
    expect(STATEMENT_CSV_COLUMNS.join(',')).toBe(HEADER);
  });
});

describe('toCsv', () => {
  it('writes the exact header, CRLF line endings and 9-decimal amounts', () => {
    const csv = toCsv([
      statementLine(base),
      statementLine({
        ...base,
        accountId: 'bob',
        plan: 'free',
        gross: 100_000_001n,
        grant: 100_000_000n,
        payAsYouGo: false,
        customKeyRequests: 0,
        status: 'draft',
      }),
    ]);
    expect(csv).toBe(
      `${HEADER}\r\n` +
        '2024-03,alice,user,pro,5.000000000,2.000000000,2.000000000,3.000000000,0.000000000,7,final\r\n' +
        '2024-03,bob,user,free,0.100000001,0.100000000,0.100000000,0.000000000,0.000000001,0,draft\r\n',
    );
  });

  it('an empty statement is the header alone', () => {
    expect(toCsv([])).toBe(`${HEADER}\r\n`);
  });

  it('writes negative amounts exactly', () => {
    const csv = toCsv([statementLine({ ...base, gross: 0n, adjustment: -500_000_000n })]);
    expect(parseCsv(csv)[1]?.slice(4, 9)).toEqual([
      '-0.500000000',
      '2.000000000',
      '0.000000000',
      '-0.500000000',
      '0.000000000',
    ]);
  });

  it.each([
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['line\nbreak', '"line\nbreak"'],
    ['cr\rhere', '"cr\rhere"'],
    ['crlf\r\n', '"crlf\r\n"'],
    ['plain-id_1.x', 'plain-id_1.x'],
    [' spaced ', ' spaced '],
    ['=SUM(A1)', '=SUM(A1)'], // no formula-injection rewriting: ids stay as they are
  ])('quotes %j as %j', (field, quoted) => {
    expect(quoteCsvField(field)).toBe(quoted);
    const csv = toCsv([statementLine({ ...base, accountId: field, plan: field })]);
    const row = csv.slice(HEADER.length + 2);
    expect(row.startsWith(`2024-03,${quoted},user,${quoted},`)).toBe(true);
    expect(parseCsv(csv)[1]?.[1]).toBe(field);
  });

  it('rejects lines with bad fields', () => {
    const line = statementLine(base);
    expect(() => toCsv([{ ...line, gross: 1 as unknown as bigint }])).toThrow(/bigint/);
    expect(() => toCsv([{ ...line, month: '2024-13' }])).toThrow(/YYYY-MM/);
    expect(() => toCsv([{ ...line, status: 'x' as 'draft' }])).toThrow(/status/);
    expect(() => toCsv([{ ...line, custom_key_requests: -2 }])).toThrow(/custom key/);
  });

  const tricky = fc.string({
    unit: fc.constantFrom(
      ',',
      '"',
      '\r',
      '\n',
      ' ',
      'a',
      'Z',
      '0',
      '=',
      '+',
      '-',
      '@',
      '\t',
      'é',
      '😀',
    ),
    minLength: 1,
    maxLength: 12,
  });
  const text = fc.oneof(tricky, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }));
  const inputArb: fc.Arbitrary<StatementInput> = fc.record({
    month: fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1, max: 12 }))
      .map(([y, m]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}`),
    accountId: text,
    accountKind: fc.constantFrom('user' as const, 'org' as const),
    plan: text,
    gross: fc.bigInt({ min: 0n, max: 2n ** 62n }),
    grant: fc.bigInt({ min: 0n, max: 2n ** 40n }),
    payAsYouGo: fc.boolean(),
    customKeyRequests: fc.nat(),
    status: fc.constantFrom('draft' as const, 'final' as const),
    adjustment: fc.option(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), { nil: undefined }),
  });

  it('property: parses back field by field with an independent RFC 4180 parser', () => {
    fc.assert(
      fc.property(fc.array(inputArb, { maxLength: 8 }), (inputs) => {
        const lines: StatementLine[] = inputs.map(statementLine);
        const csv = toCsv(lines);
        expect(csv.endsWith('\r\n')).toBe(true);
        const records = parseCsv(csv);
        expect(records).toHaveLength(lines.length + 1);
        expect(records[0]).toEqual([...STATEMENT_CSV_COLUMNS]);
        lines.forEach((line, i) => {
          const record = records[i + 1];
          expect(record).toHaveLength(STATEMENT_CSV_COLUMNS.length);
          const field = (name: (typeof STATEMENT_CSV_COLUMNS)[number]): string =>
            record?.[STATEMENT_CSV_COLUMNS.indexOf(name)] ?? '<missing>';
          expect(field('month')).toBe(line.month);
          expect(field('account_id')).toBe(line.account_id);
          expect(field('account_kind')).toBe(line.account_kind);
          expect(field('plan')).toBe(line.plan);
          expect(field('custom_key_requests')).toBe(String(line.custom_key_requests));
          expect(field('status')).toBe(line.status);
          const amounts = [
            ['gross_usd', line.gross],
            ['credits_granted_usd', line.credits_granted],
            ['credits_applied_usd', line.credits_applied],
            ['payable_usd', line.payable],
            ['written_off_usd', line.written_off],
          ] as const;
          for (const [name, nano] of amounts) {
            expect(field(name)).toMatch(/^-?\d+\.\d{9}$/);
            expect(usdToNano(field(name))).toBe(nano);
          }
        });
      }),
    );
  });
});
