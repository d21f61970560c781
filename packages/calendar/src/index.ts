// @nanobill/calendar: calendar months in UTC, the unit of credits, limits, statements and the
// audit (docs/contract.md §5). Pure functions, no I/O.
export { checkMonth, monthBounds, monthOf, toInstant, type MonthBounds } from './month.js';
