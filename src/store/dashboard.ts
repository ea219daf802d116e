/** The console dashboard's figures: licenses issued per month and tier. */
import { TIERS, type Tier } from "../core/catalogue.js";
import type { Queryable } from "./db.js";

/** Licenses issued in one calendar month (UTC), by tier. */
export interface MonthCounts {
  /** `YYYY-MM`. */
  readonly month: string;
  readonly by_tier: Record<Tier, number>;
  readonly total: number;
}

/** The first instant (UTC) of the month `offset` months from the month of `d`. */
function monthStart(d: Date, offset: number): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
}

const monthName = (d: Date) => d.toISOString().slice(0, 7);

/**
 * Licenses issued in each of the last `months` calendar months up to and
 * including the month of `now`, oldest first, every month present (zero when
 * none). Renewals count as issued in their month; imports by their issue date.
 */
export async function issuedPerMonth(
  q: Queryable,
  now: Date,
  months: number,
): Promise<MonthCounts[]> {
  const from = monthStart(now, -(months - 1));
  const until = monthStart(now, 1);
  const { rows } = await q.query<{ month: string; tier: string; n: unknown }>(
    `SELECT to_char(date_trunc('month', issued_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
       tier, count(*)::int AS n
     FROM licenses WHERE issued_at >= $1 AND issued_at < $2 GROUP BY 1, 2`,
    [from.toISOString(), until.toISOString()],
  );
  const out: MonthCounts[] = [];
  for (let i = 0; i < months; i++) {
    const month = monthName(monthStart(from, i));
    const by_tier = Object.fromEntries(TIERS.map((t) => [t, 0])) as Record<Tier, number>;
    let total = 0;
    for (const r of rows) {
      if (r.month !== month) continue;
      by_tier[r.tier as Tier] = (by_tier[r.tier as Tier] ?? 0) + Number(r.n);
      total += Number(r.n);
    }
    out.push({ month, by_tier, total });
  }
  return out;
}
