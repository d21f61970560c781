import type { ClickHouseClient } from '@nanobill/clickhouse';
import { monthToDateGross } from '@nanobill/statement-lines';
import {
  usageSeries,
  usageVersions,
  type UsageSeriesOptions,
  type UsageSeriesResult,
} from '@nanobill/usage';
import { recentAlerts, type AlertEntry } from './alerts.js';

export type { AlertEntry } from './alerts.js';

/**
 * The reads behind the org routes, by name: the routes hold no SQL, and tests of the HTTP layer
 * (auth, validation, error mapping, answer shapes) give fakes instead of a database.
 */
export interface OrgQueries {
  /** Usage over time, stacked by a dimension (the hourly rollups). */
  usageSeries(options: UsageSeriesOptions): Promise<UsageSeriesResult>;
  /**
   * The orgs' usage versions: decimal counts that grow whenever rows land in the rollups the
   * usage series reads, and only then (read before the series to reuse an answer).
   */
  usageVersions(orgs: readonly string[]): Promise<Map<string, string>>;
  /** The month's gross as its statement says, late adjustments of earlier months included. */
  monthToDateGross(org: string, month: string): Promise<bigint>;
  /** The org's newest alerts with their deliveries, newest first. */
  recentAlerts(org: string, limit: number): Promise<AlertEntry[]>;
}

/** The org routes' queries on ClickHouse. */
export function clickhouseQueries(clickhouse: ClickHouseClient): OrgQueries {
  return {
    usageSeries: (options) => usageSeries(clickhouse, options),
    usageVersions: (orgs) => usageVersions(clickhouse, orgs),
    monthToDateGross: (org, month) => monthToDateGross(clickhouse, org, month),
    recentAlerts: (org, limit) => recentAlerts(clickhouse, { org, limit }),
  };
}
