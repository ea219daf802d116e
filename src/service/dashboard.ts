/**
 * What the console's dashboard shows: counts by tier and state, licenses
 * issued per month by tier, licenses expiring soon, the keys, license e-mails
 * not sent yet and webhook events kept as ignored.
 */
import { countByKid } from "../store/licenses.js";
import { issuedPerMonth, type MonthCounts } from "../store/dashboard.js";
import {
  countUnsent,
  countWebhookEvents,
  listFailingDeliveries,
  listWebhookEvents,
  type FailingDelivery,
  type WebhookEvent,
} from "../store/sales.js";
import type { ServiceContext } from "./context.js";
import { countLicenses, listLicenses, type LicenseCounts, type LicenseRecord } from "./licenses.js";

export type { MonthCounts } from "../store/dashboard.js";
export type { FailingDelivery, WebhookEvent } from "../store/sales.js";

/** One trusted key, and how many stored licenses it signed. */
export interface RingKey {
  readonly kid: string;
  readonly signing: boolean;
  readonly licenses: number;
}

export interface Dashboard {
  readonly counts: LicenseCounts;
  /** The last 12 months, oldest first. */
  readonly months: MonthCounts[];
  /** Active licenses expiring within {@link EXPIRING_DAYS} days, soonest page first (newest issued). */
  readonly expiring: LicenseRecord[];
  /** True when more licenses expire in that window than `expiring` holds. */
  readonly moreExpiring: boolean;
  /** The kid new licenses are signed with; undefined when the server only verifies. */
  readonly signingKid: string | undefined;
  readonly ring: RingKey[];
  /** License e-mails not sent yet (queued or failing), and the failing ones, the next due first. */
  readonly delivery: { readonly unsent: number; readonly failing: FailingDelivery[] };
  /** Webhook events kept as ignored (to fix and replay), and the latest of them. */
  readonly webhooks: { readonly ignored: number; readonly latest: WebhookEvent[] };
}

export const EXPIRING_DAYS = 30;
const EXPIRING_SHOWN = 20;
/** How many failing e-mails and ignored webhook events the dashboard lists. */
export const PROBLEMS_SHOWN = 10;

/**
 * The dashboard's figures, now.
 *
 * @example
 * ```ts
 * const d = await dashboard(ctx);
 * d.counts.by_state.active;
 * ```
 */
export async function dashboard(ctx: ServiceContext): Promise<Dashboard> {
  const now = ctx.now();
  const [counts, months, expiring, byKid, unsent, failing, ignored, latest] = await Promise.all([
    countLicenses(ctx),
    issuedPerMonth(ctx.db, now, 12),
    listLicenses(ctx, { expiringWithinDays: EXPIRING_DAYS, limit: EXPIRING_SHOWN }),
    countByKid(ctx.db),
    countUnsent(ctx.db),
    listFailingDeliveries(ctx.db, PROBLEMS_SHOWN),
    countWebhookEvents(ctx.db, "ignored"),
    listWebhookEvents(ctx.db, { status: "ignored", limit: PROBLEMS_SHOWN }),
  ]);
  const signingKid = ctx.signer?.kid;
  const n = new Map(byKid.map((k) => [k.kid, k.n]));
  const kids = new Set([...ctx.ring.keys().map((k) => k.kid), ...n.keys()]);
  return {
    counts,
    months,
    expiring: expiring.licenses,
    moreExpiring: expiring.nextAfter !== null,
    signingKid,
    ring: [...kids].map((kid) => ({
      kid,
      signing: kid === signingKid,
      licenses: n.get(kid) ?? 0,
    })),
    delivery: { unsent, failing },
    webhooks: { ignored, latest },
  };
}
