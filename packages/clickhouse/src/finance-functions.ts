/**
 * The functions finance SQL may call: an allowlist, so that a function ClickHouse adds tomorrow
 * (or one that reads files, calls the network or describes the server) is refused until someone
 * decides otherwise. Names are matched case-insensitively, as ClickHouse resolves `SUM` or
 * `COUNT`; a test checks against `system.functions` that every name exists and that no other
 * function shares one of these names in another case.
 *
 * Never here: file, url, s3, remote*, input, executable, dictGet*, dictHas, joinGet,
 * getSetting*, sleep*, catboostEvaluate, evalMLMethod, hostName, currentUser, currentDatabase,
 * version, uptime, getMacro, getServerPort, serverUUID, filesystem*, getClientHTTPHeader,
 * hasColumnInTable, globalVariable, throwIf, rand*, and the functions that call another function
 * by its name (arrayReduce, initializeAggregation): the syntax tree would not show which.
 */
const SCALAR = `
  plus minus multiply divide intDiv intDivOrZero modulo moduloOrZero positiveModulo negate abs
  gcd lcm exp log ln sqrt pow power exp2 exp10 log2 log10 sign greatest least divideDecimal
  multiplyDecimal

  equals notEquals less greater lessOrEquals greaterOrEquals isNotDistinctFrom
  and or not xor if multiIf caseWithExpression transform
  isNull isNotNull coalesce ifNull nullIf assumeNotNull toNullable isZeroOrNull isFinite
  isInfinite isNaN
  in notIn globalIn globalNotIn nullIn notNullIn globalNullIn globalNotNullIn

  length lengthUTF8 char_length character_length empty notEmpty lower upper lcase ucase
  lowerUTF8 upperUTF8 concat concatWithSeparator substring substr substringUTF8 left right
  leftUTF8 rightUTF8 trim trimBoth trimLeft trimRight ltrim rtrim startsWith endsWith position
  positionCaseInsensitive positionUTF8 locate like notLike ilike notILike match extract
  extractAll replaceAll replaceOne replaceRegexpAll replaceRegexpOne replace splitByChar
  splitByString splitByRegexp arrayStringConcat format leftPad rightPad lpad rpad repeat
  reverse formatReadableQuantity formatReadableSize formatReadableDecimalSize
  formatReadableTimeDelta countSubstrings toValidUTF8 hex

  toString toFixedString toInt8 toInt16 toInt32 toInt64 toInt128 toInt256 toUInt8 toUInt16
  toUInt32 toUInt64 toUInt128 toUInt256 toFloat32 toFloat64 toDecimal32 toDecimal64
  toDecimal128 toDecimal256 toDecimal32OrNull toDecimal64OrNull toDecimal128OrNull
  toDecimal256OrNull toDecimal128OrZero toInt64OrNull toInt64OrZero toUInt64OrNull
  toUInt64OrZero toFloat64OrNull toFloat64OrZero toDate toDate32 toDateTime toDateTime64
  toDateOrNull toDateTimeOrNull toDateTime64OrNull toDate32OrNull toTypeName CAST _CAST
  accurateCast accurateCastOrNull toBool toDecimalString toLowCardinality
  parseDateTimeBestEffort parseDateTimeBestEffortOrNull parseDateTime64BestEffort
  parseDateTime64BestEffortOrNull parseDateTime parseDateTimeOrNull toUUID toUUIDOrNull
  toIntervalSecond toIntervalMinute toIntervalHour toIntervalDay toIntervalWeek
  toIntervalMonth toIntervalQuarter toIntervalYear toIntervalMillisecond
  round roundBankers floor ceil ceiling trunc truncate

  now now64 today yesterday toYear toMonth toQuarter toDayOfMonth toDayOfWeek toDayOfYear
  toHour toMinute toSecond toISOWeek toISOYear toWeek toYearWeek toYYYYMM toYYYYMMDD
  toYYYYMMDDhhmmss toStartOfYear toStartOfQuarter toStartOfMonth toMonday toStartOfWeek
  toStartOfDay toStartOfHour toStartOfMinute toStartOfFiveMinutes toStartOfTenMinutes
  toStartOfFifteenMinutes toStartOfInterval toLastDayOfMonth toLastDayOfWeek
  toStartOfSecond date_trunc dateTrunc dateDiff date_diff addDays addHours addMinutes
  addSeconds addMonths addYears addWeeks addQuarters subtractDays subtractHours
  subtractMinutes subtractSeconds subtractMonths subtractYears subtractWeeks
  subtractQuarters formatDateTime formatDateTimeInJodaSyntax toUnixTimestamp
  fromUnixTimestamp fromUnixTimestamp64Milli toUnixTimestamp64Milli toTimeZone toTimezone
  makeDate makeDateTime age monthName dateName timeSlot toRelativeDayNum
  toRelativeMonthNum toRelativeHourNum

  array arrayJoin arrayMap arrayFilter arrayExists arrayAll arraySum arrayAvg arrayMin
  arrayMax arrayCount arraySort arrayReverseSort arrayDistinct arrayUniq arrayConcat
  arrayElement has hasAll hasAny indexOf range arraySlice arrayPushBack arrayPushFront
  arrayCumSum arrayEnumerate arrayZip arrayFlatten arrayCompact arrayFirst arrayLast
  arrayReverse arrayIntersect arrayDifference arrayProduct emptyArrayString arrayPopBack
  arrayPopFront arrayEnumerateUniq countEqual
  tuple tupleElement
  map mapKeys mapValues mapContains mapFromArrays

  JSONExtract JSONExtractString JSONExtractInt JSONExtractUInt JSONExtractFloat
  JSONExtractBool JSONExtractRaw JSONExtractKeys JSONExtractArrayRaw JSONExtractKeysAndValues
  JSONHas JSONLength JSONType JSON_VALUE JSON_QUERY JSON_EXISTS simpleJSONExtractString
  simpleJSONExtractInt simpleJSONExtractFloat simpleJSONHas visitParamExtractString
  isValidJSON toJSONString
  materialize
`;

/**
 * Produced by the parser, not listed in `system.functions`: `x -> …` (lambda), `EXISTS (…)`,
 * `GROUPING(…)` of GROUPING SETS.
 */
const SYNTAX = `lambda exists grouping`;

/** Aggregate functions; each may carry the combinators below (`sumIf`, `countDistinct`, …). */
const AGGREGATE = `
  count sum avg min max any anyLast anyHeavy any_value argMin argMax uniq uniqExact
  uniqCombined uniqCombined64 uniqHLL12 groupArray groupUniqArray groupArraySorted groupConcat
  topK quantile quantiles quantileExact quantilesExact quantileTDigest quantilesTDigest
  quantileTiming median medianExact stddevPop stddevSamp varPop varSamp covarPop covarSamp
  corr sumWithOverflow sumKahan avgWeighted first_value last_value singleValueOrNull deltaSum
`;

/** Window functions (`… OVER (…)`); aggregates work as window functions too. */
const WINDOW = `
  row_number rank dense_rank percent_rank cume_dist ntile lagInFrame leadInFrame nth_value
  lag lead
`;

/**
 * Aggregate function combinators, longest first so that `MergeState` is not read as `State`
 * after a `Merge`: `sumIf`, `sumArray`, `countDistinct`, `sumOrNull`, `sumState`, `sumMerge`,
 * `sumMap`, …
 */
export const AGGREGATE_COMBINATORS = [
  'SimpleState',
  'MergeState',
  'OrDefault',
  'Distinct',
  'ForEach',
  'OrNull',
  'ArgMin',
  'ArgMax',
  'Array',
  'Merge',
  'State',
  'Map',
  'If',
] as const;

/** How many combinators one call may stack (`sumArrayIfOrNull`). */
const MAX_COMBINATORS = 4;

const words = (text: string) => text.split(/\s+/).filter(Boolean);

export const FINANCE_SCALAR_FUNCTIONS: readonly string[] = words(SCALAR);
export const FINANCE_SYNTAX_FUNCTIONS: readonly string[] = words(SYNTAX);
export const FINANCE_AGGREGATE_FUNCTIONS: readonly string[] = words(AGGREGATE);
export const FINANCE_WINDOW_FUNCTIONS: readonly string[] = words(WINDOW);

const lowerSet = (...lists: ReadonlyArray<readonly string[]>) =>
  new Set(lists.flat().map((name) => name.toLowerCase()));

const PLAIN = lowerSet(
  FINANCE_SCALAR_FUNCTIONS,
  FINANCE_SYNTAX_FUNCTIONS,
  FINANCE_AGGREGATE_FUNCTIONS,
  FINANCE_WINDOW_FUNCTIONS,
);
const AGGREGATES = lowerSet(FINANCE_AGGREGATE_FUNCTIONS);

/** Whether finance SQL may call the function `name` (as the syntax tree spells it). */
export function isFinanceFunction(name: string): boolean {
  if (PLAIN.has(name.toLowerCase())) return true;
  let base = name;
  for (let stacked = 0; stacked < MAX_COMBINATORS; stacked++) {
    const combinator = AGGREGATE_COMBINATORS.find(
      (suffix) => base.length > suffix.length && base.endsWith(suffix),
    );
    if (combinator === undefined) return false;
    base = base.slice(0, -combinator.length);
    if (AGGREGATES.has(base.toLowerCase())) return true;
  }
  return false;
}

/** In-family functions: their right-hand side may name a table (`x IN billing.ledger`). */
export const IN_FUNCTIONS: ReadonlySet<string> = lowerSet(
  words('in notIn globalIn globalNotIn nullIn notNullIn globalNullIn globalNotNullIn'),
);
