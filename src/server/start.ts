/**
 * Starting the configured server: open the database, apply migrations, make
 * the first admin token on first start, listen, and leave the address in
 * `<data-dir>/server.json`. `close()` removes that file, stops taking new
 * connections, lets in-flight requests finish, then closes the database.
 */
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { ServerConfig } from "../config/server.js";
import { ensurePrivateDir } from "../config/fs-safe.js";
import { removeServerFile, writeServerFile } from "../config/data-dir.js";
import type { Database, ServiceContext } from "../service/context.js";
import { openService } from "../service/open.js";
import { ensureInitialToken } from "../service/tokens.js";
import { DeliveryWorker, unsentDeliveries } from "../service/delivery.js";
import { buildApp } from "./app.js";
import { startSeatReclaim } from "./reclaim.js";

export { ADMIN_TOKEN_FILE } from "../config/data-dir.js";

export interface StartOptions {
  readonly config: ServerConfig;
  readonly now?: () => Date;
  readonly logStream?: { write(line: string): void } | false;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly db: Database;
  /** http://host:port as bound (the real port when 0 was asked for). */
  readonly url: string;
  /** Where the data is, for people: the pgdata folder or the redacted database URL. */
  readonly where: string;
  /** The file the initial admin token was written to, when this start made one. */
  readonly adminTokenFile: string | undefined;
  close(): Promise<void>;
}

/** The URL a client on this machine uses for a server listening on `host`. */
function localUrl(host: string, port: number): string {
  const h = host.replace(/^\[(.*)\]$/, "$1");
  if (h === "0.0.0.0" || h === "") return `http://127.0.0.1:${port}`;
  if (h === "::" || h === "::0") return `http://[::1]:${port}`;
  return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

/**
 * Starts the server described by `config`.
 *
 * @example
 * ```ts
 * const server = await startServer({ config: loadServerConfig(env, {}, home) });
 * process.once("SIGTERM", () => void server.close());
 * ```
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config } = options;
  const now = options.now ?? (() => new Date());
  ensurePrivateDir(config.dataDir);
  const opened = await openService({
    database: config.database,
    dataDir: config.dataDir,
    keys: config.keys,
    schema: "migrate",
    now,
  });
  const { db, where } = opened;
  const migrated = opened.migrated!;
  let app: FastifyInstance | undefined;
  try {
    const token = await ensureInitialToken(opened.ctx, config.adminTokenSeed, config.dataDir);
    app = await buildApp({
      db,
      signer: config.keys.signer,
      ring: config.keys.ring,
      now,
      logLevel: config.logLevel,
      trustedProxies: config.trustedProxies,
      verifyRateLimit: config.verifyRateLimit,
      sales: config.sales,
      revocationsMaxAgeS: config.revocationsMaxAgeS,
      catalogue: config.catalogue,
      ...(config.verifyCacheEntries !== undefined
        ? { verifyCacheEntries: config.verifyCacheEntries }
        : {}),
      ...(options.logStream !== undefined ? { logStream: options.logStream } : {}),
    });
    app.log.info(
      { database: where, schema_version: migrated.version, applied: migrated.applied },
      "database ready",
    );
    if (token.file) {
      app.log.info(
        { file: token.file },
        "created the initial admin token; it is in this file (mode 600)",
      );
    } else if (token.created) {
      app.log.info("created the initial admin token from DATATOOLS_ADMIN_TOKEN_FILE");
    }
    const address = await app.listen({ host: config.host, port: config.port });
    const running = app;
    const worker = await startDelivery(config, opened.ctx, app);
    // The address commands on this machine use while the embedded database is locked.
    let serverFile = false;
    try {
      writeServerFile(config.dataDir, {
        url: localUrl(config.host, (app.server.address() as AddressInfo).port),
        pid: process.pid,
      });
      serverFile = true;
    } catch (err) {
      app.log.warn(
        { err, dir: config.dataDir },
        "cannot write server.json; commands on this data folder will not find the API",
      );
    }
    const stopReclaim = startSeatReclaim(running, opened.ctx, config.seatReclaimDays);
    let closing: Promise<void> | undefined;
    return {
      app,
      db,
      url: address,
      where,
      adminTokenFile: token.file,
      close() {
        closing ??= (async () => {
          stopReclaim();
          if (serverFile) {
            try {
              removeServerFile(config.dataDir, process.pid);
            } catch (err) {
              running.log.warn({ err }, "cannot remove server.json");
            }
          }
          // Stop a shutdown from hanging on a client that never finishes.
          const force = setTimeout(() => running.server.closeAllConnections(), 10_000);
          force.unref();
          try {
            await running.close();
            await worker?.stop();
          } finally {
            clearTimeout(force);
            await db.close();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Starts the delivery worker when SMTP is configured; otherwise warns once
 * (license e-mails wait in the outbox, /readyz says delivery is off).
 */
async function startDelivery(
  config: ServerConfig,
  ctx: ServiceContext,
  app: FastifyInstance,
): Promise<DeliveryWorker | undefined> {
  const { sales } = config;
  if (!sales.smtp || !sales.mailFrom) {
    const waiting = await unsentDeliveries(ctx).catch(() => undefined);
    app.log.warn(
      { waiting },
      "no SMTP_URL configured: license e-mails are kept in the outbox and not sent",
    );
    return undefined;
  }
  const { createSmtpMailer } = await import("../service/mail.js");
  const worker = new DeliveryWorker(ctx, {
    mailer: await createSmtpMailer(sales.smtp),
    from: sales.mailFrom,
    templates: sales.templates,
    timing: sales.delivery,
    log: app.log,
  });
  worker.start();
  app.log.info({ smtp: new URL(sales.smtp.url).host }, "license e-mail delivery started");
  return worker;
}
