// Store events as Stripe and Lemon Squeezy send them, signed as they sign them.
import { createHmac } from "node:crypto";
import Stripe from "stripe";
import { DEFAULT_DELIVERY, type SalesConfig } from "../../src/config/sales.js";

export const STRIPE_SECRET = "whsec_test_0123456789abcdef0123456789";
export const LS_SECRET = "ls_test_secret_0123456789abcdef";

export const PRODUCTS = {
  stripe: { "core-1y": { tier: "core", years: 1 }, plink_1Abc: { tier: "pro", years: 2 } },
  lemonsqueezy: { "123456": { tier: "lite", years: 1 } },
} as const;

export const SALES: SalesConfig = {
  products: PRODUCTS,
  productsFile: undefined,
  stripeSecret: STRIPE_SECRET,
  lemonSqueezySecret: LS_SECRET,
  smtp: undefined,
  mailFrom: undefined,
  templatesDir: undefined,
  templates: {},
  delivery: DEFAULT_DELIVERY,
};

let n = 0;
const next = () => `${Date.now().toString(36)}${(n++).toString(36)}`;

export interface Buyer {
  name?: string | null;
  email?: string | null;
}

/** A paid Checkout session (checkout.session.completed). */
export function checkoutCompleted(
  opts: {
    id?: string;
    product?: string | null;
    paymentLink?: string;
    paymentIntent?: string;
    paid?: boolean;
  } & Buyer = {},
) {
  const pi = opts.paymentIntent ?? `pi_${next()}`;
  return {
    id: opts.id ?? `evt_${next()}`,
    object: "event",
    type: "checkout.session.completed",
    data: {
      object: {
        id: `cs_test_${next()}`,
        object: "checkout.session",
        payment_status: opts.paid === false ? "unpaid" : "paid",
        payment_intent: pi,
        payment_link: opts.paymentLink ?? null,
        metadata: opts.product === null ? {} : { dtl_product: opts.product ?? "core-1y" },
        customer_details: {
          name: opts.name === undefined ? "Ada Lovelace" : opts.name,
          email: opts.email === undefined ? "ada@example.com" : opts.email,
        },
      },
    },
  };
}

/** A charge refund (charge.refunded), full unless `partial`. */
export function chargeRefunded(paymentIntent: string, partial = false, id = `evt_${next()}`) {
  return {
    id,
    object: "event",
    type: "charge.refunded",
    data: {
      object: {
        id: `ch_${next()}`,
        object: "charge",
        payment_intent: paymentIntent,
        amount: 4900,
        amount_refunded: partial ? 1000 : 4900,
        refunded: !partial,
      },
    },
  };
}

export function dispute(
  type: "charge.dispute.created" | "charge.dispute.closed",
  paymentIntent: string,
  status = "needs_response",
) {
  return {
    id: `evt_${next()}`,
    object: "event",
    type,
    data: {
      object: { id: `dp_${next()}`, object: "dispute", payment_intent: paymentIntent, status },
    },
  };
}

/** The body and Stripe-Signature header of an event, signed at `at`. */
export function signStripe(event: unknown, at: Date, secret = STRIPE_SECRET) {
  const payload = JSON.stringify(event);
  const header = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    timestamp: Math.floor(at.getTime() / 1000),
  });
  return { payload, header };
}

/** A Lemon Squeezy order event. */
export function lsOrder(
  event: "order_created" | "order_refunded",
  opts: { order?: string; variant?: string | number; status?: string } & Buyer = {},
) {
  return {
    meta: { event_name: event, custom_data: {} },
    data: {
      type: "orders",
      id: opts.order ?? String(100000 + n++),
      attributes: {
        status: opts.status ?? (event === "order_created" ? "paid" : "refunded"),
        user_name: opts.name === undefined ? "Grace Hopper" : opts.name,
        user_email: opts.email === undefined ? "grace@example.com" : opts.email,
        first_order_item: { variant_id: opts.variant ?? 123456 },
      },
    },
  };
}

export function signLemonSqueezy(event: unknown, secret = LS_SECRET) {
  const payload = JSON.stringify(event);
  return { payload, header: createHmac("sha256", secret).update(payload).digest("hex") };
}
