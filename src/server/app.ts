/**
 * Builds the HTTP app: fastify with strict JSON schemas (unknown fields and
 * wrong types are refused, never coerced or dropped), the error boundary, one
 * log line per request, metrics, and the endpoint groups.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Catalogue } from "../core/catalogue.js";
import { randomDraws } from "../core/random.js";
import type { KeyRing, Signer } from "../core/keys.js";
import { registerConsole } from "../console/routes.js";
import { createServiceContext, type Database } from "../service/context.js";
import type { ServerContext } from "./context.js";
import { ApiError, installErrorBoundary, sendError } from "./errors.js";
import { registerHealthRoutes } from "./health.js";
import { registerLicenseRoutes } from "./licenses.js";
import { Metrics } from "./metrics.js";
import { registerOpenApi, registerOpenApiRoute } from "./openapi.js";
import { RateLimiter } from "./rate-limit.js";
import { registerTokenRoutes } from "./tokens.js";
import { registerSalesRoutes } from "./sales.js";
import type { SalesConfig } from "../config/sales.js";
import { registerVerifyRoutes } from "./verify.js";
import { registerCheckinRoutes } from "./checkin.js";

/** The default body limit; the import endpoint allows more. */
export const BODY_LIMIT = 16 * 1024;
/** Verify requests a minute per client address when nothing is configured. */
export const DEFAULT_VERIFY_RATE_LIMIT = 120;

export interface AppOptions {
  readonly db: Database;
  readonly signer: Signer | undefined;
  readonly ring: KeyRing;
  /** The clock (default: the system's). */
  readonly now?: () => Date;
  /**
   * Where JSON log lines go: a stream, or false for none. Default: stdout.
   * Level is `info` unless `logLevel` says otherwise.
   */
  readonly logStream?: { write(line: string): void } | false;
  readonly logLevel?: string;
  /** Addresses/CIDRs whose X-Forwarded-For is believed (default: loopback). */
  readonly trustedProxies?: readonly string[];
  /** Verify requests a minute per client address. */
  readonly verifyRateLimit?: number;
  /** Store sales (products, webhook secrets); without it the webhooks refuse every event. */
  readonly sales?: SalesConfig;
  /** How long the revocation list may be cached, in seconds (default 3600). */
  readonly revocationsMaxAgeS?: number;
  /** The tiers' default seat limits come from it (default: the built-in catalogue). */
  readonly catalogue?: Catalogue;
  /** Most blobs the verified-signature cache keeps (0: none; default: the service's). */
  readonly verifyCacheEntries?: number;
}

// Request ids are random (they say nothing about traffic volume), from bytes drawn for
// 512 ids at a time (core/random.ts).
const idBytes = randomDraws(12);
function requestId(): string {
  return `req_${idBytes().toString("base64url")}`;
}

/**
 * The deepest nesting of arrays and objects a JSON body may have. Real bodies are a few
 * levels deep (an import is `{"records": [{…}]}`); the limit keeps recursive code after the
 * parse (validation, serialising, the NUL check) far from the stack's end.
 */
export const MAX_JSON_DEPTH = 32;

/** True when JSON text nests arrays/objects deeper than `limit`; brackets inside strings do not count. */
function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // A backslash escapes the next character, so \" does not end the string.
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** True when any string or key anywhere in `root` holds a NUL; iterative, so no depth can overflow it. */
function containsNul(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") {
      if (value.includes("\u0000")) return true;
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        if (key.includes("\u0000")) return true;
        pending.push(item);
      }
    }
  }
  return false;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Every body field of the route is optional: no body, or an empty JSON one, reads as `{}`. */
    emptyBodyIsObject?: boolean;
  }
}

/**
 * Builds the app (not yet listening). Call `app.listen()` or use `app.inject()`.
 *
 * @example
 * ```ts
 * const app = await buildApp({ db, signer, ring });
 * await app.listen({ host: "127.0.0.1", port: 8090 });
 * ```
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const metrics = new Metrics();
  const ctx: ServerContext = {
    service: createServiceContext({
      db: options.db,
      signer: options.signer,
      ring: options.ring,
      ...(options.now ? { now: options.now } : {}),
      events: { licensesWritten: (action, n) => metrics.inc("licenses", action, n) },
      batching: true,
      ...(options.catalogue ? { catalogue: options.catalogue } : {}),
      ...(options.verifyCacheEntries !== undefined
        ? { verifyCacheEntries: options.verifyCacheEntries }
        : {}),
    }),
    metrics,
    verifyLimiter: new RateLimiter(options.verifyRateLimit ?? DEFAULT_VERIFY_RATE_LIMIT),
  };
  const logger: FastifyServerOptions["logger"] =
    options.logStream === false
      ? false
      : ({
          level: options.logLevel ?? "info",
          base: null,
          ...(options.logStream ? { stream: options.logStream } : {}),
          // Requests are logged once, by the onResponse hook below, with chosen fields only.
          serializers: { req: () => undefined, res: () => undefined },
        } as unknown as FastifyServerOptions["logger"]);
  const app = Fastify({
    logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    trustProxy: [...(options.trustedProxies ?? ["loopback"])],
    requestIdHeader: false,
    genReqId: requestId,
    return503OnClosing: true,
    // Long path segments reach the handlers (and get a 404), not the router's own 414.
    routerOptions: { maxParamLength: 4096 },
    // Malformed URLs are answered in the one error shape too.
    frameworkErrors: (err, req, reply) => {
      void sendError(reply, new ApiError("REQUEST_INVALID", `the URL is malformed (${err.code})`));
      void req;
    },
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
      },
    },
  });
  app.decorateRequest("actor", "");
  // Only JSON bodies are accepted; fastify's built-in text/plain parser would let text through.
  app.removeContentTypeParser("text/plain");
  // fastify's own parser (with its __proto__/constructor poisoning checks), behind a nesting
  // check on the raw text: a body nested thousands deep is refused before anything recurses.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.length === 0 && req.routeOptions.config.emptyBodyIsObject) {
      done(null, {});
    } else if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
      done(
        new ApiError(
          "REQUEST_INVALID",
          `the JSON body is nested more than ${MAX_JSON_DEPTH} levels deep`,
        ),
        undefined,
      );
    } else {
      parseJson(req, text, done);
    }
  });
  installErrorBoundary(app);

  // The hooks every request runs are callback hooks: no promise and no extra microtask each.
  app.addHook("onRequest", (req, reply, done) => {
    reply.header("x-request-id", req.id);
    done();
  });
  app.addHook("preValidation", (req, _reply, done) => {
    if (req.body === undefined && req.routeOptions.config.emptyBodyIsObject) req.body = {};
    // PostgreSQL text cannot hold NUL; refuse it as bad input rather than fail in the database.
    if (containsNul(req.body) || containsNul(req.query) || containsNul(req.params)) {
      done(new ApiError("REQUEST_INVALID", "text must not contain NUL (\\u0000) characters"));
    } else {
      done();
    }
  });
  app.addHook("onResponse", (req, reply, done) => {
    const route = req.routeOptions.url ?? "(unmatched)";
    const ms = reply.elapsedTime;
    ctx.metrics.observe(req.method, route, reply.statusCode, ms / 1000);
    // One line per request. The path (never the query, which may hold e-mail searches),
    // never headers (tokens) or bodies (blobs).
    req.log.info(
      {
        method: req.method,
        route,
        path: req.url.split("?")[0]!.slice(0, 200),
        status: reply.statusCode,
        ms: Math.round(ms * 100) / 100,
        ip: req.ip,
        ...(req.actor ? { actor: req.actor } : {}),
      },
      "request",
    );
    done();
  });

  // The document generator goes first, so that it sees every route.
  await registerOpenApi(app);
  registerHealthRoutes(app, ctx, options.sales ? (options.sales.smtp ? "on" : "off") : undefined);
  registerOpenApiRoute(app);
  registerVerifyRoutes(app, ctx);
  registerLicenseRoutes(app, ctx);
  registerTokenRoutes(app, ctx);
  registerSalesRoutes(app, ctx, options.sales);
  registerCheckinRoutes(app, ctx, {
    ...(options.revocationsMaxAgeS !== undefined
      ? { revocationsMaxAgeS: options.revocationsMaxAgeS }
      : {}),
  });
  await app.register(registerConsole, {
    prefix: "/admin",
    service: ctx.service,
    // As /readyz says it: whether the server sends license e-mails or they wait.
    ...(options.sales ? { delivery: options.sales.smtp ? "on" : "off" } : {}),
  });
  await app.ready();
  return app;
}
