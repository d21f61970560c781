import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { monthBounds, monthOf, toInstant } from '../src/index.js';

describe('monthBounds', () => {
  it.each([
    ['2024-03', '2024-03-01T00:00:00.000Z', '2024-04-01T00:00:00.000Z'],
    ['2024-12', '2024-12-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'],
    ['2024-02', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
    ['1970-01', '1970-01-01T00:00:00.000Z', '1970-02-01T00:00:00.000Z'],
  ])('%s → [%s, %s)', (month, start, end) => {
    const bounds = monthBounds(month);
    expect(bounds.start.toISOString()).toBe(start);
    expect(bounds.end.toISOString()).toBe(end);
  });

  it('does not map years 0000–0099 to the 1900s', () => {
    expect(monthBounds('0050-01').start.getUTCFullYear()).toBe(50);
    expect(monthOf(monthBounds('0050-01').start)).toBe('0050-01');
    expect(monthBounds('0099-12').end.getUTCFullYear()).toBe(100);
  });

  it.each([
    '2024-3',
    '2024-13',
    '2024-00',
    '24-03',
    '2024-03-01',
    ' 2024-03',
    '2024/03',
    '',
    '+2024-03',
  ])('rejects %j', (month) => {
    expect(() => monthBounds(month)).toThrow(/YYYY-MM/);
  });

  it('months tile time: each end is the next start, and every instant of it maps back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1, max: 12 }), (y, m) => {
        const month = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}`;
        const { start, end } = monthBounds(month);
        expect(monthOf(start)).toBe(month);
        expect(monthOf(new Date(end.getTime() - 1))).toBe(month);
        if (y < 9999 || m < 12) expect(monthBounds(monthOf(end)).start).toEqual(end);
      }),
    );
  });
});

describe('monthOf', () => {
  it.each([
    ['2024-03-31T23:59:59.999Z', '2024-03'],
    ['2024-04-01T00:00:00Z', '2024-04'],
    // Offsets are converted to UTC first.
    ['2024-04-01T00:30:00+01:00', '2024-03'],
    ['2024-03-31T23:30:00-01:00', '2024-04'],
    ['2024-12-31T23:59:59.999999999Z', '2024-12'],
  ])('%s → %s', (instant, month) => {
    expect(monthOf(instant)).toBe(month);
    expect(monthOf(toInstant(instant))).toBe(month);
  });

  it('rejects instants that do not fit YYYY-MM and invalid Dates', () => {
    expect(() => monthOf(new Date(Date.UTC(10000, 0, 1)))).toThrow(/YYYY-MM/);
    expect(() => monthOf(new Date(Number.NaN))).toThrow(/invalid Date/);
  });
});

describe('toInstant', () => {
  it.each([
    ['2024-03-15T12:00:00Z', '2024-03-15T12:00:00.000Z'],
    ['2024-03-15T12:00Z', '2024-03-15T12:00:00.000Z'],
    ['2024-03-15T12:00:00.5Z', '2024-03-15T12:00:00.500Z'],
    ['2024-03-15T12:00:00.123456789Z', '2024-03-15T12:00:00.123Z'],
    ['2024-03-15T12:00:00+05:30', '2024-03-15T06:30:00.000Z'],
    ['2024-03-15T00:00:00-10:00', '2024-03-15T10:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(toInstant(text).toISOString()).toBe(iso);
  });

  it.each([
    '2024-03-15', // no time: which zone?
    '2024-03-15T12:00:00', // no zone: engines read it as local time
    '2024-02-30T00:00:00Z', // Date.parse rolls this over to March 1st
    '2023-02-29T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-03-15T24:00:00Z',
    '2024-03-15T12:60:00Z',
    '2024-03-15T12:00:60Z',
    '2024-03-15T12:00:00+24:00',
    '2024-03-15 12:00:00Z',
    'March 15, 2024',
    '',
  ])('rejects %j', (text) => {
    expect(() => toInstant(text)).toThrow(RangeError);
  });

  it('agrees with Date on every valid UTC ISO string', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0000-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        (date) => {
          expect(toInstant(date.toISOString()).getTime()).toBe(date.getTime());
        },
      ),
    );
  });
});
