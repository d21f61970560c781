import { IN_FUNCTIONS, isFinanceFunction } from './finance-functions.js';

/**
 * Every table and view of `billing` that finance SQL may read. `FINANCE_DENIED_OBJECTS` are the
 * ones it may not; a test fails when `billing` holds an object in neither list, so that a new
 * table is a decision, not an accident. The finance user's `GRANT SELECT` list is this one.
 */
export const FINANCE_OBJECTS: readonly string[] = [
  'usage',
  'pricing_pending',
  'ledger_entries',
  'ledger',
  'unpriced_entries',
  'unpriced',
  'pricing_duplicates',
  'account_snapshots',
  'account_settings',
  'statement_lines',
  'statements',
  'statement_months',
  'statement_drafts',
  'statement_claims',
  'alert_log',
  'alerts',
  'alert_deliveries',
  'usage_hourly',
  'usage_hourly_mv',
  'usage_by_key_hourly',
  'usage_by_key_daily',
  'usage_by_key_hourly_mv',
  'usage_by_key_daily_mv',
  'usage_versions',
  'usage_versions_hourly_mv',
  'usage_versions_daily_mv',
  'schema_migrations',
  'migration_lock',
  'ledger_inserts',
  'ledger_inserts_mv',
  'rollup_corrections',
  'rollup_corrections_hourly_mv',
  'rollup_corrections_by_key_hourly_mv',
  'rollup_corrections_by_key_daily_mv',
  'rollup_checks',
  'open_pending',
];

/** Secrets: token hashes and webhook signing secrets. */
export const FINANCE_DENIED_OBJECTS: readonly string[] = ['api_tokens', 'webhook_secrets'];

const ALLOWED_TABLES = new Set(FINANCE_OBJECTS.map((name) => `billing.${name}`));

/** A refusal of finance SQL, with the reason the caller sees (a 400 over HTTP). */
export class FinanceSqlRefused extends Error {
  override readonly name = 'FinanceSqlRefused';
}

const refuse = (reason: string): never => {
  throw new FinanceSqlRefused(reason);
};

/** One line of `EXPLAIN AST`, parsed. */
export interface AstNode {
  type: string;
  /** What follows the type: a name, a literal, a table; '' when none. */
  payload: string;
  alias: string | undefined;
  children: AstNode[];
}

/** Letters, digits and `_`: the names finance SQL may use (aliases, columns, functions). */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `a`, `t.column`, `j.a.b` (JSON paths), `billing.ledger`. */
const COMPOUND_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const SAMPLE_RATIO = /^\d+(\.\d+)?( \/ \d+(\.\d+)?)?$/;
const CHILDREN = / \(children ([1-9][0-9]{0,6})\)$/;
const ALIAS = / \(alias (.*)\)$/;
const CONTROL = /[\x00-\x1f\x7f]/; // eslint-disable-line no-control-regex

const FORGED_TREE =
  'finance SQL names (aliases, columns, tables) may use letters, digits and _ only: the syntax tree of this query could not be checked';

/** Node types of a SELECT and what their payload is. Anything else is refused. */
const NODE_PAYLOADS: Record<string, (payload: string) => boolean> = {
  SelectWithUnionQuery: isEmpty,
  SelectIntersectExceptQuery: isEmpty,
  SelectQuery: isEmpty,
  ExpressionList: isEmpty,
  Subquery: isEmpty,
  WithElement: isEmpty,
  TablesInSelectQuery: isEmpty,
  TablesInSelectQueryElement: isEmpty,
  TableExpression: isEmpty,
  TableJoin: isEmpty,
  ArrayJoin: isEmpty,
  WindowDefinition: isEmpty,
  WindowListElement: isEmpty,
  OrderByElement: isEmpty,
  Asterisk: isEmpty,
  QualifiedAsterisk: isEmpty,
  ColumnsRegexpMatcher: isEmpty,
  ColumnsListMatcher: isEmpty,
  QualifiedColumnsRegexpMatcher: isEmpty,
  QualifiedColumnsListMatcher: isEmpty,
  ColumnsTransformerList: isEmpty,
  ColumnsExceptTransformer: isEmpty,
  ColumnsReplaceTransformer: isEmpty,
  'ColumnsReplaceTransformer::Replacement': isEmpty,
  ColumnsApplyTransformer: isEmpty, // refused below, with its own reason
  Set: isEmpty, // refused below, with its own reason
  Identifier: (payload) => COMPOUND_NAME.test(payload),
  TableIdentifier: (payload) => COMPOUND_NAME.test(payload),
  Function: (payload) => NAME.test(payload),
  Literal: isLiteral,
  SampleRatio: (payload) => SAMPLE_RATIO.test(payload),
  InterpolateElement: (payload) => /^\(column [A-Za-z_][A-Za-z0-9_]*\)$/.test(payload),
};

function isEmpty(payload: string): boolean {
  return payload === '';
}

/**
 * Parses the lines of `EXPLAIN AST` strictly: one space of indent per depth, each line of the
 * expected grammar, and each node with exactly the children it declares. Names are printed
 * unescaped, so a name with a newline could forge lines: such a tree never adds up (a forged
 * line is a child nobody declared) and is refused, as is any name that is not a plain one.
 */
export function parseExplainAst(lines: readonly string[]): AstNode {
  const declared = new Map<AstNode, number>();
  const path: AstNode[] = [];
  let root: AstNode | undefined;
  for (const line of lines) {
    if (CONTROL.test(line)) refuse(FORGED_TREE);
    const depth = /^ */.exec(line)![0].length;
    const { node, children } = parseLine(line.slice(depth));
    declared.set(node, children);
    if (depth === 0) {
      if (root !== undefined) refuse(FORGED_TREE);
      root = node;
    } else {
      const parent = path[depth - 1];
      if (parent === undefined || depth > path.length) refuse(FORGED_TREE);
      parent!.children.push(node);
    }
    path.length = depth;
    path.push(node);
  }
  if (root === undefined) return refuse('finance SQL is empty');
  for (const [node, children] of declared) {
    if (node.children.length !== children) refuse(FORGED_TREE);
  }
  return root;
}

function parseLine(text: string): { node: AstNode; children: number } {
  let rest = text;
  let children = 0;
  const childrenMatch = CHILDREN.exec(rest);
  if (childrenMatch) {
    children = Number(childrenMatch[1]);
    rest = rest.slice(0, childrenMatch.index);
  }
  let alias: string | undefined;
  const aliasMatch = ALIAS.exec(rest);
  if (aliasMatch && !rest.startsWith('Literal ')) {
    alias = aliasMatch[1]!;
    rest = rest.slice(0, aliasMatch.index);
  } else if (aliasMatch) {
    // A literal's own text may end with ")": take the alias only if what is left is a literal.
    const before = rest.slice(0, aliasMatch.index);
    if (isLiteral(before.slice('Literal '.length))) {
      alias = aliasMatch[1]!;
      rest = before;
    }
  }
  if (alias !== undefined && !NAME.test(alias)) {
    refuse(
      `alias ${JSON.stringify(alias)} is not allowed in finance SQL: names may use letters, digits and _ only`,
    );
  }
  const space = rest.indexOf(' ');
  const type = space === -1 ? rest : rest.slice(0, space);
  const payload = space === -1 ? '' : rest.slice(space + 1);
  const validPayload = NODE_PAYLOADS[type];
  if (type === 'QueryParameter') {
    refuse('query parameters ({name:Type}) are not allowed in finance SQL');
  }
  if (validPayload === undefined) {
    refuse(`${/^[A-Za-z:]+$/.test(type) ? type : 'this syntax'} is not allowed in finance SQL`);
  }
  if (!validPayload!(payload)) {
    if (type === 'Identifier' || type === 'TableIdentifier' || type === 'Function') {
      refuse(
        `name ${JSON.stringify(payload)} is not allowed in finance SQL: names may use letters, digits and _ only`,
      );
    }
    refuse(FORGED_TREE);
  }
  return { node: { type, payload, alias, children: [] }, children };
}

/**
 * A literal as `EXPLAIN AST` prints it: `NULL`, `Bool_1`, `UInt64_3`, `Int64_-1`,
 * `Float64_1.5`, `Float64_inf`, `Decimal64_'1.50'`, `'text'` (escaped), `Array_[…]`,
 * `Tuple_(…)`, `Map_(…)`.
 */
function isLiteral(text: string): boolean {
  const end = readLiteral(text, 0);
  return end === text.length;
}

const SCALAR_LITERAL =
  /^(NULL|Bool_[01]|U?Int(8|16|32|64|128|256)_-?\d+|Float(32|64)_(-?(\d+(\.\d+)?(e[+-]?\d+)?|inf)|nan))/;
const DECIMAL_PREFIX = /^Decimal(32|64|128|256)_/;

/** Where the literal starting at `at` ends, or -1. */
function readLiteral(text: string, at: number): number {
  const rest = text.slice(at);
  if (rest.startsWith("'")) return readString(text, at);
  const decimal = DECIMAL_PREFIX.exec(rest);
  if (decimal)
    return text[at + decimal[0].length] === "'" ? readString(text, at + decimal[0].length) : -1;
  if (rest.startsWith('Array_[')) return readList(text, at + 'Array_['.length, ']');
  if (rest.startsWith('Tuple_(')) return readList(text, at + 'Tuple_('.length, ')');
  if (rest.startsWith('Map_(')) return readList(text, at + 'Map_('.length, ')');
  const scalar = SCALAR_LITERAL.exec(rest);
  return scalar ? at + scalar[0].length : -1;
}

/** A single-quoted string with backslash escapes, as ClickHouse writes it. */
function readString(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === "'") return i + 1;
  }
  return -1;
}

/** `a, b, c` up to the closing bracket. */
function readList(text: string, at: number, close: string): number {
  if (text[at] === close) return at + 1;
  let i = at;
  for (;;) {
    i = readLiteral(text, i);
    if (i === -1) return -1;
    if (text[i] === close) return i + 1;
    if (text.slice(i, i + 2) !== ', ') return -1;
    i += 2;
  }
}

/**
 * Checks the syntax tree of `<SQL>\nFORMAT <format>` for finance: one SELECT (or UNION /
 * INTERSECT / EXCEPT of them) whose only output option is the FORMAT the caller appended; no
 * SETTINGS anywhere; node types of a SELECT only; every function from the allowlist; no table
 * function; every table `billing.<finance object>` or an unqualified name, which is a CTE of the
 * query or nothing (finance SQL runs with an empty current database). Throws FinanceSqlRefused.
 */
export function checkFinanceAst(lines: readonly string[], format: string): void {
  const rootType = /^[A-Za-z]+/.exec(lines[0] ?? '')?.[0] ?? '';
  if (rootType !== 'SelectWithUnionQuery') {
    refuse(
      `finance SQL runs one SELECT query (readonly)${rootType ? `: ${rootType} is not allowed` : ''}`,
    );
  }
  const root = parseExplainAst(lines);
  checkOutputOptions(root, format);
  const stack: Array<{ node: AstNode; parent: AstNode | undefined }> = [
    { node: root, parent: undefined },
  ];
  while (stack.length > 0) {
    const { node, parent } = stack.pop()!;
    checkNode(node, parent, node === root);
    for (const child of node.children) stack.push({ node: child, parent: node });
  }
}

/** The root's children: the query, then the FORMAT identifier appended by the caller. */
function checkOutputOptions(root: AstNode, format: string): void {
  const [query, ...options] = root.children;
  if (options.some((option) => option.type === 'Literal')) {
    refuse('INTO OUTFILE is not allowed in finance SQL');
  }
  if (options.some((option) => option.type === 'Set')) {
    refuse('SETTINGS is not allowed in finance SQL (the limits are fixed)');
  }
  const [formatted, ...more] = options;
  if (
    query?.type !== 'ExpressionList' ||
    formatted?.type !== 'Identifier' ||
    formatted.payload !== format ||
    formatted.alias !== undefined ||
    more.length > 0
  ) {
    refuse('FORMAT is not allowed in finance SQL (the caller chooses the output format)');
  }
}

function checkNode(node: AstNode, parent: AstNode | undefined, isRoot: boolean): void {
  switch (node.type) {
    case 'Set':
      return refuse('SETTINGS is not allowed in finance SQL (the limits are fixed)');
    case 'ColumnsApplyTransformer':
      return refuse('APPLY is not allowed in finance SQL (it calls a function by its name)');
    case 'SelectWithUnionQuery':
      if (!isRoot && node.children.length !== 1) refuse(FORGED_TREE);
      return;
    case 'TableIdentifier':
      return checkTable(node.payload);
    case 'Function':
      return checkFunction(node, parent);
    default:
      return;
  }
}

function checkFunction(node: AstNode, parent: AstNode | undefined): void {
  const name = node.payload;
  if (parent?.type === 'TableExpression') {
    refuse(`table function ${name} is not allowed in finance SQL`);
  }
  if (!isFinanceFunction(name)) refuse(`function ${name} is not allowed in finance SQL`);
  if (CAST_FUNCTIONS.has(name.toLowerCase())) checkCastType(name, node.children[0]?.children[1]);
  // `x IN billing.api_tokens`: the right-hand side of IN may name a table, or call a table
  // function; only a tuple or an array of values is taken as a call there.
  if (IN_FUNCTIONS.has(name.toLowerCase())) {
    const set = node.children[0]?.children[1];
    if (set?.type === 'Identifier') checkTable(set.payload);
    if (set?.type === 'Function' && !['tuple', 'array'].includes(set.payload)) {
      refuse(`${name} ${set.payload}(…) is not allowed in finance SQL (use a subquery)`);
    }
  }
}

/**
 * `billing.<finance object>`, or an unqualified name: a CTE of the query, or else a table of the
 * current database, which finance SQL keeps empty (see FINANCE_SCOPE_DATABASE).
 */
function checkTable(name: string): void {
  if (!name.includes('.') || ALLOWED_TABLES.has(name)) return;
  refuse(
    `table ${name} is not allowed in finance SQL (it reads billing.${FINANCE_OBJECTS.slice(0, 3).join(', billing.')}, …; never secrets or other databases)`,
  );
}

/** Functions whose second argument names a type (`CAST(x AS T)` is `CAST(x, 'T')`). */
const CAST_FUNCTIONS: ReadonlySet<string> = new Set([
  'cast',
  '_cast',
  'accuratecast',
  'accuratecastornull',
  'accuratecastordefault',
]);

/**
 * The words a cast's target type may use (lower case: ClickHouse's SQL aliases ignore case).
 * An allowlist: a type such as `AggregateFunction(groupBitmap, UInt64)` would hand the caller's
 * bytes to the state decoder of a function finance SQL may not call; named tuple elements, being
 * arbitrary names, are not accepted either.
 */
const CAST_TYPE_WORDS: ReadonlySet<string> = new Set([
  ...['int8', 'int16', 'int32', 'int64', 'int128', 'int256'],
  ...['uint8', 'uint16', 'uint32', 'uint64', 'uint128', 'uint256'],
  ...['float32', 'float64', 'bfloat16', 'decimal', 'decimal32', 'decimal64', 'decimal128'],
  ...['decimal256', 'string', 'fixedstring', 'date', 'date32', 'datetime', 'datetime64'],
  ...['bool', 'boolean', 'uuid', 'ipv4', 'ipv6', 'nullable', 'lowcardinality', 'array'],
  ...['tuple', 'map', 'enum', 'enum8', 'enum16'],
  // SQL-standard aliases ClickHouse accepts in casts.
  ...['int', 'integer', 'bigint', 'smallint', 'tinyint', 'signed', 'unsigned', 'double'],
  ...['float', 'real', 'numeric', 'dec', 'text', 'varchar', 'char', 'timestamp'],
]);

function checkCastType(name: string, type: AstNode | undefined): void {
  const text = type?.type === 'Literal' ? stringLiteral(type.payload) : undefined;
  if (text === undefined) {
    return refuse(`${name} takes a type written as a string literal in finance SQL`);
  }
  // Quoted parts (time zones, enum values) are values, not type names.
  const words = text.replace(/'(?:[^'\\]|\\.)*'/g, "''").match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
  const unknown = words.find((word) => !CAST_TYPE_WORDS.has(word.toLowerCase()));
  if (unknown !== undefined) refuse(`type ${unknown} is not allowed in finance SQL casts`);
}

/** The value of a `'…'` literal as EXPLAIN AST prints it (`\'` and `\\` escaped). */
function stringLiteral(payload: string): string | undefined {
  if (payload.length < 2 || !payload.startsWith("'") || !payload.endsWith("'")) return undefined;
  return payload.slice(1, -1).replace(/\\(.)/g, '$1');
}
