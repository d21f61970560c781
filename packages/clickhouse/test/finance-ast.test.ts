import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFinanceAst, FinanceSqlRefused, parseExplainAst } from '../src/finance-ast.js';
import { isFinanceFunction } from '../src/finance-functions.js';

/** `EXPLAIN AST` lines as chdb 26.7 prints them, indented by a leading `|` per line here. */
const tree = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => line.replace(/^\s*\|/, ''));

const refusal = (lines: string[], format = 'JSONEachRow') => {
  try {
    checkFinanceAst(lines, format);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(FinanceSqlRefused);
    return (error as Error).message;
  }
};

// SELECT sum(cost_nano_usd) AS total FROM billing.ledger AS l WHERE provider IN (SELECT 'groq')
const LEGIT = tree(`
  |SelectWithUnionQuery (children 2)
  | ExpressionList (children 1)
  |  SelectQuery (children 3)
  |   ExpressionList (children 1)
  |    Function sum (alias total) (children 1)
  |     ExpressionList (children 1)
  |      Identifier cost_nano_usd
  |   TablesInSelectQuery (children 1)
  |    TablesInSelectQueryElement (children 1)
  |     TableExpression (children 1)
  |      TableIdentifier billing.ledger (alias l)
  |   Function in (children 1)
  |    ExpressionList (children 2)
  |     Identifier provider
  |     Subquery (children 1)
  |      SelectWithUnionQuery (children 1)
  |       ExpressionList (children 1)
  |        SelectQuery (children 1)
  |         ExpressionList (children 1)
  |          Literal 'groq'
  | Identifier JSONEachRow
`);

/** LEGIT with line `index` replaced. */
const withLine = (index: number, line: string) => LEGIT.map((l, i) => (i === index ? line : l));

describe('checkFinanceAst', () => {
  it('accepts a SELECT on a finance object with allowed functions', () => {
    expect(refusal(LEGIT)).toBeUndefined();
  });

  it('parses aliases, children and payloads', () => {
    const root = parseExplainAst(LEGIT);
    const select = root.children[0]!.children[0]!;
    expect(select.children).toHaveLength(3);
    const sum = select.children[0]!.children[0]!;
    expect(sum).toMatchObject({ type: 'Function', payload: 'sum', alias: 'total' });
    expect(root.children[1]).toMatchObject({ type: 'Identifier', payload: 'JSONEachRow' });
  });

  it('refuses a function that is not on the list, wherever it is', () => {
    expect(refusal(withLine(4, '    Function file (alias total) (children 1)'))).toBe(
      'function file is not allowed in finance SQL',
    );
    expect(refusal(withLine(4, '    Function FILE (children 1)'))).toMatch(/function FILE/);
    expect(refusal(withLine(11, '   Function dictGet (children 1)'))).toMatch(/function dictGet/);
  });

  it('refuses a table function, even an innocent one', () => {
    expect(refusal(withLine(10, '      Function numbers (alias l)'))).toBe(
      'table function numbers is not allowed in finance SQL',
    );
  });

  it('refuses tables outside the finance objects, and allows unqualified names (CTEs)', () => {
    expect(refusal(withLine(10, '      TableIdentifier billing.api_tokens'))).toMatch(
      /^table billing\.api_tokens is not allowed/,
    );
    expect(refusal(withLine(10, '      TableIdentifier system.one'))).toMatch(/table system\.one/);
    expect(refusal(withLine(10, '      TableIdentifier a.b.c'))).toMatch(/table a\.b\.c/);
    expect(refusal(withLine(10, '      TableIdentifier cte'))).toBeUndefined();
    expect(refusal(withLine(10, '      TableIdentifier billing.statements'))).toBeUndefined();
  });

  it('refuses a table named on the right of IN, and calls there other than tuple/array', () => {
    // LEGIT with `provider IN <set>` instead of the subquery.
    const inSet = (...set: string[]) => [...LEGIT.slice(0, 14), ...set, LEGIT.at(-1)!];
    expect(refusal(inSet('     Identifier billing.api_tokens'))).toMatch(
      /table billing\.api_tokens/,
    );
    expect(refusal(inSet('     Identifier cte'))).toBeUndefined();
    expect(refusal(inSet('     Function numbers (children 1)', '      ExpressionList'))).toMatch(
      /in numbers\(…\) is not allowed/,
    );
    expect(
      refusal(inSet('     Function tuple (children 1)', '      ExpressionList')),
    ).toBeUndefined();
  });

  it('refuses SETTINGS, INTO OUTFILE, FORMAT other than the caller’s, and APPLY', () => {
    const settings = [...LEGIT];
    settings.splice(2, 1, '  SelectQuery (children 4)');
    settings.splice(20, 0, '   Set');
    expect(refusal(settings)).toMatch(/SETTINGS is not allowed/);

    const outfile = [...LEGIT];
    outfile.splice(0, 1, 'SelectWithUnionQuery (children 3)');
    outfile.splice(20, 0, " Literal '/tmp/x'");
    expect(refusal(outfile)).toBe('INTO OUTFILE is not allowed in finance SQL');

    expect(refusal(LEGIT, 'CSV')).toMatch(/FORMAT is not allowed/);
    expect(
      refusal(
        LEGIT.slice(0, -1).map((l, i) => (i === 0 ? 'SelectWithUnionQuery (children 1)' : l)),
      ),
    ).toMatch(/FORMAT is not allowed/);
    expect(
      refusal(
        tree(`
          |SelectWithUnionQuery (children 2)
          | ExpressionList (children 1)
          |  SelectQuery (children 1)
          |   ExpressionList (children 1)
          |    ColumnsRegexpMatcher (children 1)
          |     ColumnsTransformerList (children 1)
          |      ColumnsApplyTransformer
          | Identifier JSONEachRow
        `),
      ),
    ).toMatch(/APPLY is not allowed/);
  });

  it('refuses anything but a SELECT at the root, and unknown node types', () => {
    expect(refusal(['InsertQuery   (children 3)', ' Identifier billing'])).toMatch(
      /runs one SELECT query \(readonly\): InsertQuery is not allowed/,
    );
    expect(refusal(['DropQuery  billing usage'])).toMatch(/DropQuery is not allowed/);
    expect(refusal([])).toMatch(/runs one SELECT/);
    expect(refusal(withLine(6, '      QueryParameter x:String'))).toMatch(/query parameters/);
    expect(refusal(withLine(6, '      Dictionary x'))).toMatch(/Dictionary is not allowed/);
  });

  it('refuses trees whose counts or indentation do not add up', () => {
    const forged = [...LEGIT];
    forged.splice(7, 0, '     Function file (children 1)', '      ExpressionList');
    expect(refusal(forged)).toMatch(/letters, digits and _/);
    expect(refusal(withLine(6, '        Identifier cost_nano_usd'))).toMatch(/letters, digits/); // too deep
    expect(refusal([...LEGIT, 'SelectWithUnionQuery'])).toMatch(/letters, digits/); // second root
    expect(refusal(withLine(6, '\u00a0     Identifier cost_nano_usd'))).toBeDefined();
    expect(refusal(withLine(6, '      Identifier cost\tnano'))).toMatch(/letters, digits/);
  });

  it('refuses names that are not plain (they could forge lines)', () => {
    expect(refusal(withLine(4, '    Function sum (alias total usd) (children 1)'))).toMatch(
      /alias "total usd" is not allowed/,
    );
    expect(refusal(withLine(6, '      Identifier cost nano'))).toMatch(/name "cost nano"/);
    expect(refusal(withLine(10, '      TableIdentifier billing.led ger'))).toMatch(/name/);
  });

  it('reads literals strictly', () => {
    const literal = (text: string) => refusal(withLine(19, `          Literal ${text}`));
    for (const ok of [
      "'groq'",
      "'it\\'s'",
      "'a\\\\b'",
      "'x\\n   Function file (children 1)'",
      'UInt64_1',
      'Int64_-1',
      'Float64_1.5',
      'Float64_1.2345678901234568e29',
      'Float64_-inf',
      'Float64_nan',
      'NULL',
      'Bool_1',
      "Array_[UInt64_1, 'a']",
      "Tuple_(UInt64_1, Array_[], 'b')",
      "Decimal64_'1.50'",
      "'a' (alias b)",
      "Tuple_(UInt64_1, ' (alias b)')",
    ]) {
      expect(literal(ok), ok).toBeUndefined();
    }
    for (const bad of ["'open", 'Array_[UInt64_1', 'UUID_x', 'Function', "'a' 'b'", 'Tuple_()x']) {
      expect(literal(bad), bad).toBeDefined();
    }
  });

  it('a name with newlines never yields an accepted tree with a function it does not show', () => {
    // What EXPLAIN AST prints for `SELECT 1 AS \`<alias>\`` (the alias unescaped), split in lines.
    const printed = (alias: string) =>
      tree(`
        |SelectWithUnionQuery (children 2)
        | ExpressionList (children 1)
        |  SelectQuery (children 1)
        |   ExpressionList (children 1)
      `)
        .concat(`    Literal UInt64_1 (alias ${alias})`.split('\n'))
        .concat(' Identifier JSONEachRow');
    const fragment = fc.constantFrom(
      '\n',
      ' ',
      ')',
      '(',
      'alias ',
      'children 1',
      'Function file',
      'Literal UInt64_1',
      'ExpressionList',
      'x',
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (parts) => {
        const alias = parts.join('');
        const error = refusal(printed(alias));
        // Accepted only when the alias is a plain name: the tree is then exactly the real one.
        if (error === undefined) expect(alias).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('isFinanceFunction', () => {
  it('allows listed functions in any case, and aggregates with combinators', () => {
    for (const name of [
      'sum',
      'SUM',
      'count',
      'countIf',
      'countDistinct',
      'sumIf',
      'sumArrayIf',
      'uniqExactIf',
      'argMaxIf',
      'sumMergeState',
      'sumMap',
      'avgOrNull',
      'toDecimal128',
      'JSONExtractString',
      'row_number',
      'lagInFrame',
      'lambda',
    ]) {
      expect(isFinanceFunction(name), name).toBe(true);
    }
  });

  it('refuses what reads files, calls the network, describes the server or calls by name', () => {
    for (const name of [
      'file',
      'FILE',
      'url',
      's3',
      'remote',
      'dictGet',
      'dictGetString',
      'joinGet',
      'getSetting',
      'sleep',
      'sleepEachRow',
      'catboostEvaluate',
      'hostName',
      'currentUser',
      'version',
      'arrayReduce',
      'initializeAggregation',
      'throwIf',
      'fileIf',
      'Distinct',
      'sumFoo',
      'multiIfIf',
    ]) {
      expect(isFinanceFunction(name), name).toBe(false);
    }
  });
});
