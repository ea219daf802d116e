/**
 * The admin console at /admin: HTML pages over the same service functions the
 * JSON API calls. Sessions are cookies naming a server-side session (started
 * by signing in with an admin token); every form that changes something
 * carries the session's CSRF secret in `_csrf`. The cookie is read only under
 * /admin (this plugin's scope), so it never authorises /v1.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TIERS } from "../core/catalogue.js";
import { isLicenseError, LicenseError } from "../core/errors.js";
import { MAX_YEARS, parseTime } from "../core/license.js";
import {
  currentSession,
  DEFAULT_SESSION_LIMITS,
  listSessions,
  signIn,
  signOut,
  type LiveSession,
  type SessionLimits,
} from "../service/console-sessions.js";
import { licenseActivations, releaseSeat, setSeatLimit } from "../service/activations.js";
import type { ServiceContext } from "../service/context.js";
import { dashboard, EXPIRING_DAYS, PROBLEMS_SHOWN } from "../service/dashboard.js";
import { importLog, type ImportSummary, type RecordOutcome } from "../service/imports.js";
import {
  changeLicenseStatus,
  getLicense,
  getLicenseEvents,
  issueLicense,
  LICENSE_FIELDS,
  LICENSE_STATES,
  licenseState,
  listLicenses,
  renewLicense,
  type LicenseRecord,
  type LicenseState,
  type StatusChange,
} from "../service/licenses.js";
import { queueDelivery, saleState } from "../service/sales.js";
import { createToken, listTokens, revokeToken, type CreatedToken } from "../service/tokens.js";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.js";
import { issuedChart, swatch } from "./chart.js";
import { SignInLimiter } from "./limiter.js";
import { readMultipart } from "./multipart.js";
import { Renderer, type PageFrame } from "./render.js";

/** The session cookie, and the one that carries the sign-in form's CSRF secret. */
export const SESSION_COOKIE = "dtl_console";
export const SIGN_IN_COOKIE = "dtl_console_signin";
const COOKIE_PATH = "/admin";

export interface ConsoleOptions {
  readonly service: ServiceContext;
  readonly sessions?: SessionLimits;
  readonly limiter?: SignInLimiter;
  /** Whether license e-mails are sent ("on": SMTP configured) or wait in the outbox ("off"). */
  readonly delivery?: "on" | "off";
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** What a finished action says on the page it redirects to (fixed texts: nothing is reflected). */
const NOTICES: Record<string, string> = {
  issue: "The license was issued and signed.",
  renew: "The license was renewed: this is the new license.",
  suspend: "The license was suspended.",
  reinstate: "The license was reinstated.",
  revoke: "The license was revoked.",
  "token-revoked": "The token was revoked; its console sessions ended.",
  deliver: "The license e-mail was queued again; the server's delivery worker sends it.",
  seats: "The seat limit was changed.",
  released: "The seat was released.",
  "signed-out": "You are signed out.",
  expired: "Your session ended; sign in again.",
};

const CHANGES: readonly StatusChange[] = ["suspend", "reinstate", "revoke"];
const CHANGE_FROM: Record<StatusChange, readonly string[]> = {
  suspend: ["active"],
  reinstate: ["suspended"],
  revoke: ["active", "suspended"],
};

declare module "fastify" {
  interface FastifyRequest {
    consoleSession: LiveSession | null;
  }
}

type Fields = Record<string, unknown>;
const field = (body: unknown, name: string): string => {
  const v = (body as Fields | undefined)?.[name];
  return typeof v === "string" ? v : "";
};

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** True when the client asked for a page (a browser), not data. */
function wantsHtml(req: FastifyRequest): boolean {
  return (req.headers.accept ?? "").includes("text/html");
}

const keyPath = (key: string) => `/admin/licenses/${encodeURIComponent(key)}`;

/** Registers the console under /admin (call with `app.register(registerConsole, { prefix: "/admin", … })`). */
export async function registerConsole(app: FastifyInstance, options: ConsoleOptions) {
  const ctx = options.service;
  const limits = options.sessions ?? DEFAULT_SESSION_LIMITS;
  const limiter = options.limiter ?? new SignInLimiter();
  const view = new Renderer();

  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.addContentTypeParser(
    "multipart/form-data",
    { parseAs: "buffer", bodyLimit: 8 * 1024 * 1024 },
    (req, body, done) => {
      const fields = readMultipart(body as Buffer, String(req.headers["content-type"] ?? ""));
      if (!fields) done(new LicenseError("REQUEST_INVALID", "the upload is not well formed"));
      else done(null, fields);
    },
  );
  app.decorateRequest("consoleSession", null);

  const cookieOptions = (req: FastifyRequest) => ({
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: "strict" as const,
    // req.protocol is https only for TLS here or through a trusted proxy's X-Forwarded-Proto.
    secure: req.protocol === "https",
  });

  const frame = (req: FastifyRequest, title: string, nav?: string): PageFrame => {
    const s = req.consoleSession;
    const done = (req.query as Fields | undefined)?.done;
    return {
      title,
      ...(s ? { session: { tokenName: s.tokenName, tokenId: s.tokenId }, csrf: s.csrf } : {}),
      ...(nav ? { nav } : {}),
      notice: typeof done === "string" ? NOTICES[done] : undefined,
    };
  };
  const send = (reply: FastifyReply, html: string, status = 200) =>
    reply.code(status).type("text/html; charset=utf-8").send(html);
  const messagePage = (
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    heading: string,
    text: string,
  ) =>
    send(
      reply,
      view.page("message", frame(req, heading), {
        heading,
        text,
        link: req.consoleSession ? "/admin/" : "/admin/sign-in",
        linkText: req.consoleSession ? "Back to the dashboard" : "Sign in",
      }),
      status,
    );
  const who = (req: FastifyRequest) => ({
    actor: req.consoleSession!.tokenName,
    requestId: String(req.id),
  });

  app.addHook("onRequest", async (_req, reply) => {
    reply.headers({
      "content-security-policy": CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "same-origin",
      "x-frame-options": "DENY",
      "cache-control": "no-store",
    });
  });

  // Every route but the assets and sign-in needs a live session: a page goes to sign-in,
  // anything else gets 401. Checked before the body is read.
  const PUBLIC = new Set([
    "/admin/sign-in",
    "/admin/assets/console.css",
    "/admin/assets/console.js",
  ]);
  app.addHook("onRequest", async (req, reply) => {
    if (PUBLIC.has(req.routeOptions.url ?? "")) return;
    const id = req.cookies[SESSION_COOKIE];
    const session = id ? await currentSession(ctx, id, limits) : undefined;
    if (session) {
      req.consoleSession = session;
      // The request log line names the token, as it does for the API (server/context.ts declares it).
      req.actor = session.tokenName;
      return;
    }
    if (id) reply.clearCookie(SESSION_COOKIE, cookieOptions(req));
    if (wantsHtml(req)) {
      return reply.redirect(id ? "/admin/sign-in?done=expired" : "/admin/sign-in", 303);
    }
    return reply
      .code(401)
      .type("application/json; charset=utf-8")
      .send({
        error: {
          code: "AUTH_MISSING",
          message: "sign in to the console first (POST /admin/sign-in)",
          request_id: String(req.id),
        },
      });
  });

  // Every state-changing request of a session carries the session's CSRF secret.
  app.addHook("preHandler", async (req, reply) => {
    if (req.method !== "POST" || !req.consoleSession) return;
    if (!sameSecret(field(req.body, "_csrf"), req.consoleSession.csrf)) {
      return messagePage(
        req,
        reply,
        403,
        "Form refused",
        "This form did not carry this session's security token (it may be old, or come from another site). Nothing was changed; go back, reload the page and try again.",
      );
    }
  });

  app.setErrorHandler(async (err, req, reply) => {
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return messagePage(req, reply, 413, "Too large", "The upload is too large (at most 8 MB).");
    }
    if (isLicenseError(err)) {
      const status = err.code === "NOT_FOUND" ? 404 : 400;
      return messagePage(req, reply, status, "Not done", `${err.message} [${err.code}]`);
    }
    if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
      return messagePage(req, reply, e.statusCode, "Not done", "The request was not understood.");
    }
    req.log.error({ err }, "console request failed");
    return messagePage(
      req,
      reply,
      500,
      "Something went wrong",
      `An unexpected error; it has been logged with request id ${String(req.id)}.`,
    );
  });

  const hidden = { schema: { hide: true } };

  app.get("/assets/console.css", hidden, async (_req, reply) =>
    reply
      .type("text/css; charset=utf-8")
      .header("cache-control", "public, max-age=3600")
      .send(CONSOLE_CSS),
  );
  app.get("/assets/console.js", hidden, async (_req, reply) =>
    reply
      .type("text/javascript; charset=utf-8")
      .header("cache-control", "public, max-age=3600")
      .send(CONSOLE_JS),
  );

  // Sign-in: before a session exists, the form's CSRF secret is a cookie of its own
  // (double submit), so another site cannot sign a browser in.
  const signInPage = (req: FastifyRequest, reply: FastifyReply, status: number, error?: string) => {
    const secret = randomBytes(24).toString("base64url");
    reply.setCookie(SIGN_IN_COOKIE, secret, cookieOptions(req));
    return send(
      reply,
      view.page("signin", { ...frame(req, "Sign in"), csrf: secret, error }),
      status,
    );
  };
  app.get("/sign-in", hidden, async (req, reply) => {
    const id = req.cookies[SESSION_COOKIE];
    if (id && (await currentSession(ctx, id, limits))) return reply.redirect("/admin/", 303);
    return signInPage(req, reply, 200);
  });
  app.post("/sign-in", hidden, async (req, reply) => {
    const expected = req.cookies[SIGN_IN_COOKIE] ?? "";
    if (!sameSecret(field(req.body, "_csrf"), expected)) {
      return signInPage(
        req,
        reply,
        403,
        "The sign-in form had expired. Nothing was changed; try again.",
      );
    }
    const now = ctx.now().getTime();
    const wait = limiter.wait(req.ip, now);
    if (wait > 0) {
      reply.header("retry-after", String(Math.ceil(wait / 1000)));
      return signInPage(
        req,
        reply,
        429,
        `Too many failed sign-ins from your address; wait ${Math.ceil(wait / 1000)} seconds and try again.`,
      );
    }
    let started;
    try {
      started = await signIn(ctx, field(req.body, "token"), limits);
    } catch (err) {
      if (!isLicenseError(err) || err.code !== "AUTH_INVALID") throw err;
      limiter.fail(req.ip, now);
      return signInPage(
        req,
        reply,
        401,
        "That admin token is not valid (unknown, mistyped or revoked).",
      );
    }
    limiter.succeed(req.ip);
    reply.clearCookie(SIGN_IN_COOKIE, cookieOptions(req));
    reply.setCookie(SESSION_COOKIE, started.sessionId, cookieOptions(req));
    return reply.redirect("/admin/", 303);
  });
  app.post("/sign-out", hidden, async (req, reply) => {
    await signOut(ctx, req.consoleSession!);
    reply.clearCookie(SESSION_COOKIE, cookieOptions(req));
    return reply.redirect("/admin/sign-in?done=signed-out", 303);
  });

  const f = {
    state: (l: LicenseRecord): LicenseState =>
      licenseState(l.status, parseTime(l.expires_at) ?? new Date(0), ctx.now()),
    day: (t: string) => t.slice(0, 10),
    time: (t: string) => t.replace("T", " ").replace(/(:\d\d)(\.\d+)?Z$/, "$1 UTC"),
    cap: (s: string) => s.charAt(0).toUpperCase() + s.slice(1),
    short: (s: string) => (s.length > 16 ? `${s.slice(0, 12)}…` : s),
    diff: (before: Record<string, unknown>, after: Record<string, unknown>) =>
      Object.keys(after)
        .filter((k) => before[k] !== after[k])
        .map((k) => `${k}: ${String(before[k] ?? "—")} → ${String(after[k] ?? "—")}`)
        .join("; "),
  };

  app.get("/", hidden, async (req, reply) => {
    const d = await dashboard(ctx);
    return send(
      reply,
      view.page("dashboard", frame(req, "Dashboard", "dashboard"), {
        d,
        f,
        tiers: TIERS,
        states: LICENSE_STATES,
        ringKids: ctx.ring.keys().map((k) => k.kid),
        expiringDays: EXPIRING_DAYS,
        problemsShown: PROBLEMS_SHOWN,
        deliveryOff: options.delivery === "off",
        chart: issuedChart(d.months, TIERS),
        swatches: TIERS.map((_, i) => swatch(i)),
      }),
    );
  });

  const PAGE = 25;
  app.get("/licenses", hidden, async (req, reply) => {
    const raw = req.query as Fields;
    const text = (k: string) => (typeof raw[k] === "string" ? (raw[k] as string).trim() : "");
    const query = {
      q: text("q"),
      email: text("email"),
      tier: (TIERS as readonly string[]).includes(text("tier")) ? text("tier") : "",
      state: (LICENSE_STATES as readonly string[]).includes(text("state")) ? text("state") : "",
      expiring: /^[0-9]{1,5}$/.test(text("expiring")) ? Number(text("expiring")) : undefined,
      after: /^[0-9]{1,15}$/.test(text("after")) ? Number(text("after")) : undefined,
    };
    let page;
    let error: string | undefined;
    try {
      page = await listLicenses(ctx, {
        limit: PAGE,
        ...(query.q ? { search: query.q } : {}),
        ...(query.email ? { email: query.email } : {}),
        ...(query.tier ? { tier: query.tier as (typeof TIERS)[number] } : {}),
        ...(query.state ? { state: query.state as LicenseState } : {}),
        ...(query.expiring !== undefined ? { expiringWithinDays: query.expiring } : {}),
        ...(query.after !== undefined ? { after: query.after } : {}),
      });
    } catch (err) {
      if (!isLicenseError(err)) throw err;
      error = `${err.message} [${err.code}]`;
      page = { licenses: [], nextAfter: null };
    }
    const params = (after?: number) => {
      const p = new URLSearchParams();
      for (const k of ["q", "email", "tier", "state"] as const) if (query[k]) p.set(k, query[k]);
      if (query.expiring !== undefined) p.set("expiring", String(query.expiring));
      if (after !== undefined) p.set("after", String(after));
      const s = p.toString();
      return `/admin/licenses${s ? `?${s}` : ""}`;
    };
    return send(
      reply,
      view.page(
        "licenses",
        { ...frame(req, "Licenses", "licenses"), error },
        {
          query,
          f,
          tiers: TIERS,
          states: LICENSE_STATES,
          licenses: page.licenses,
          next: page.nextAfter === null ? undefined : params(page.nextAfter),
          first: query.after !== undefined ? params() : undefined,
        },
      ),
    );
  });

  const issueForm = (
    req: FastifyRequest,
    reply: FastifyReply,
    form: Record<string, string>,
    status = 200,
    error?: string,
  ) =>
    send(
      reply,
      view.page(
        "issue",
        { ...frame(req, "Issue a license", "issue"), error },
        { form, tiers: TIERS, maxYears: MAX_YEARS },
      ),
      status,
    );

  app.get("/licenses/new", hidden, async (req, reply) =>
    issueForm(req, reply, { name: "", email: "", tier: "core", years: "1" }),
  );
  app.post("/licenses", hidden, async (req, reply) => {
    const form = {
      name: field(req.body, "name"),
      email: field(req.body, "email").trim(),
      tier: field(req.body, "tier"),
      years: field(req.body, "years").trim() || "1",
    };
    try {
      // Anything but digits becomes NaN, which the service refuses (YEARS_INVALID).
      const years = /^[0-9]{1,3}$/.test(form.years) ? Number(form.years) : NaN;
      const { body } = await issueLicense(
        ctx,
        { name: form.name, email: form.email, tier: form.tier, years },
        who(req),
      );
      return reply.redirect(`${keyPath(body.license_key)}?done=issue`, 303);
    } catch (err) {
      if (!isLicenseError(err)) throw err;
      return issueForm(req, reply, form, 400, `${err.message} [${err.code}]`);
    }
  });

  /** The licenses this one renewed and was renewed by, oldest first (at most 50 steps each way). */
  async function chainOf(l: LicenseRecord): Promise<LicenseRecord[]> {
    const chain = [l];
    for (let at = l, i = 0; at.supersedes && i < 50; i++) {
      at = await getLicense(ctx, at.supersedes);
      chain.unshift(at);
    }
    for (let at = l, i = 0; at.superseded_by && i < 50; i++) {
      at = await getLicense(ctx, at.superseded_by);
      chain.push(at);
    }
    return chain;
  }

  const fileName = (key: string) => `${key.replace(/[^A-Za-z0-9_-]/g, "_")}.dtlic`;

  app.get("/licenses/:key", hidden, async (req, reply) => {
    const { key } = req.params as { key: string };
    const l = await getLicense(ctx, key);
    const [events, chain, sold, seats] = await Promise.all([
      getLicenseEvents(ctx, key),
      chainOf(l),
      saleState(ctx, key),
      licenseActivations(ctx, key),
    ]);
    const state = f.state(l);
    return send(
      reply,
      view.page("license", frame(req, `License of ${l.name}`, "licenses"), {
        l,
        f,
        state,
        events: [...events].reverse(),
        chain,
        fields: [
          ...LICENSE_FIELDS.filter((k) => k !== "blob").map((k) => [k, l[k]]),
          ["state", state],
        ],
        changes: CHANGES.filter((c) => CHANGE_FROM[c].includes(l.status)),
        filename: fileName(l.license_key),
        sale: sold.sale,
        deliveryOff: options.delivery === "off",
        delivery: sold.delivery,
        seats,
        held: seats.activations.filter((a) => !a.released_at),
      }),
    );
  });

  // Re-delivery queues the stored blob again, as POST /v1/licenses/{key}/deliver does.
  app.post("/licenses/:key/deliver", hidden, async (req, reply) => {
    const { key } = req.params as { key: string };
    await queueDelivery(ctx, key, who(req));
    return reply.redirect(`${keyPath(key)}?done=deliver#delivery`, 303);
  });

  app.post("/licenses/:key/seats", hidden, async (req, reply) => {
    const { key } = req.params as { key: string };
    const raw = field(req.body, "seats").trim();
    // Empty means no limit; anything but 1-5 digits becomes NaN, which the service refuses (SEATS_INVALID).
    const seats = raw === "" ? null : /^[0-9]{1,5}$/.test(raw) ? Number(raw) : NaN;
    await setSeatLimit(ctx, key, seats, who(req));
    return reply.redirect(`${keyPath(key)}?done=seats#seats`, 303);
  });

  app.post("/activations/:id/release", hidden, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!/^[0-9]{1,15}$/.test(id) || Number(id) < 1)
      throw new LicenseError("NOT_FOUND", `no activation with id ${id.slice(0, 20)}`);
    try {
      const released = await releaseSeat(ctx, Number(id), who(req));
      return reply.redirect(`${keyPath(released.license_key)}?done=released#seats`, 303);
    } catch (err) {
      if (!isLicenseError(err, "LICENSE_STATE_CONFLICT")) throw err;
      return messagePage(req, reply, 409, "Not released", `${err.message} [${err.code}]`);
    }
  });

  app.get("/licenses/:key/download", hidden, async (req, reply) => {
    const { key } = req.params as { key: string };
    const l = await getLicense(ctx, key);
    return reply
      .type("text/plain; charset=utf-8")
      .header("content-disposition", `attachment; filename="${fileName(l.license_key)}"`)
      .send(`${l.blob}\n`);
  });

  app.post("/licenses/:key/renew", hidden, async (req, reply) => {
    const { key } = req.params as { key: string };
    const y = field(req.body, "years").trim();
    const years = /^[0-9]{1,3}$/.test(y) ? Number(y) : NaN;
    try {
      const { body } = await renewLicense(ctx, key, years, who(req));
      return reply.redirect(`${keyPath(body.license_key)}?done=renew`, 303);
    } catch (err) {
      if (!isLicenseError(err) || err.code === "NOT_FOUND") throw err;
      const status = err.code === "LICENSE_STATE_CONFLICT" ? 409 : 400;
      return messagePage(req, reply, status, "Not renewed", `${err.message} [${err.code}]`);
    }
  });

  for (const action of CHANGES) {
    const page = async (
      req: FastifyRequest,
      reply: FastifyReply,
      l: LicenseRecord,
      reason: string,
      confirming: boolean,
      status = 200,
      error?: string,
    ) =>
      send(
        reply,
        view.page(
          "change",
          { ...frame(req, `${f.cap(action)} a license`, "licenses"), error },
          {
            l,
            f,
            action,
            reason,
            confirming,
            state: f.state(l),
          },
        ),
        status,
      );
    app.get(`/licenses/:key/${action}`, hidden, async (req, reply) => {
      const l = await getLicense(ctx, (req.params as { key: string }).key);
      return page(req, reply, l, "", false);
    });
    app.post(`/licenses/:key/${action}`, hidden, async (req, reply) => {
      const l = await getLicense(ctx, (req.params as { key: string }).key);
      const reason = field(req.body, "reason").trim();
      if (reason === "") {
        return page(req, reply, l, "", false, 400, "Give a reason: it is kept in the audit trail.");
      }
      if (reason.length > 500) {
        return page(req, reply, l, reason, false, 400, "Keep the reason to 500 characters.");
      }
      if (field(req.body, "confirm") !== "yes") return page(req, reply, l, reason, true);
      try {
        await changeLicenseStatus(ctx, l.license_key, action, reason, who(req));
      } catch (err) {
        if (!isLicenseError(err) || err.code === "NOT_FOUND") throw err;
        return page(req, reply, l, reason, false, 409, `${err.message} [${err.code}]`);
      }
      return reply.redirect(`${keyPath(l.license_key)}?done=${action}`, 303);
    });
  }

  const tokensPage = async (
    req: FastifyRequest,
    reply: FastifyReply,
    created?: CreatedToken,
    status = 200,
    error?: string,
  ) => {
    const [tokens, sessions] = await Promise.all([listTokens(ctx), listSessions(ctx)]);
    return send(
      reply,
      view.page(
        "tokens",
        { ...frame(req, "Admin tokens", "tokens"), error },
        {
          tokens,
          sessions,
          created,
          f,
          session: req.consoleSession,
        },
      ),
      status,
    );
  };
  app.get("/tokens", hidden, async (req, reply) => tokensPage(req, reply));
  app.post("/tokens", hidden, async (req, reply) => {
    try {
      const created = await createToken(
        ctx,
        field(req.body, "name"),
        req.consoleSession!.tokenName,
      );
      // Shown once, in this answer (never in a URL); no-store keeps it out of caches.
      return tokensPage(req, reply, created, 201);
    } catch (err) {
      if (!isLicenseError(err)) throw err;
      return tokensPage(req, reply, undefined, 400, `${err.message} [${err.code}]`);
    }
  });
  app.post("/tokens/:id/revoke", hidden, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!/^[0-9]{1,15}$/.test(id))
      throw new LicenseError("NOT_FOUND", `no admin token ${id.slice(0, 20)}`);
    await revokeToken(ctx, id);
    if (Number(id) === req.consoleSession!.tokenId) {
      reply.clearCookie(SESSION_COOKIE, cookieOptions(req));
      return reply.redirect("/admin/sign-in?done=token-revoked", 303);
    }
    return reply.redirect("/admin/tokens?done=token-revoked", 303);
  });

  const LINES_SHOWN = 1000;
  type LineOutcome =
    | { line: number; outcome: RecordOutcome; key: string }
    | { line: number; outcome: "rejected"; code: string; reason: string };
  const importPage = (
    req: FastifyRequest,
    reply: FastifyReply,
    summary?: ImportSummary,
    lines: readonly LineOutcome[] = [],
    status = 200,
    error?: string,
  ) =>
    send(
      reply,
      view.page(
        "import",
        { ...frame(req, "Import", "import"), error },
        { summary, lines, linesShown: LINES_SHOWN },
      ),
      status,
    );
  app.get("/import", hidden, async (req, reply) => importPage(req, reply));
  app.post("/import", hidden, async (req, reply) => {
    const text = field(req.body, "log");
    if (text.trim() === "") {
      return importPage(req, reply, undefined, [], 400, "Choose a non-empty issuance log file.");
    }
    const outcomes: LineOutcome[] = [];
    const summary = await importLog(ctx, text, who(req), {
      onRecord: (line, outcome, key) => {
        if (outcomes.length < LINES_SHOWN) outcomes.push({ line, outcome, key });
      },
    });
    // Every line's outcome in log order: the accepted ones and the rejected ones together.
    const lines: LineOutcome[] = [
      ...outcomes,
      ...summary.rejected.map((r) => ({
        line: r.line,
        outcome: "rejected" as const,
        code: r.code,
        reason: r.reason,
      })),
    ]
      .sort((a, b) => a.line - b.line)
      .slice(0, LINES_SHOWN);
    return importPage(req, reply, summary, lines);
  });
}
