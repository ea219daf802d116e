// A database link that freezes (packets stop, nothing closes): every request still answers,
// 503 DATABASE_UNAVAILABLE within its limit, and the server works again once the link does.
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadDatabaseConfig, loadServerConfig } from "../../src/config/server.js";
import { isLicenseError, type LicenseError } from "../../src/core/errors.js";
import { mintLicense } from "../../src/core/mint.js";
import { buildApp } from "../../src/server/app.js";
import { READY_TIMEOUT_MS } from "../../src/server/health.js";
import { toClientError } from "../../src/server/errors.js";
import { isConnectionError, type Database } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrations.js";
import { openDatabase } from "../../src/store/open.js";
import { openPostgres } from "../../src/store/pg.js";
import { insertLicense } from "../../src/store/licenses.js";
import { generateToken, insertToken } from "../../src/store/tokens.js";
import { createScratchDatabase } from "../store/databases.js";
import { errorOf, ring, signer, START, until } from "./harness.js";
import { startRelay, type Relay } from "./relay.js";

const URL_ONLY = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/licenses" };
const TIMEOUT_VARS = ["DATATOOLS_DB_CONNECT_TIMEOUT_MS", "DATATOOLS_DB_QUERY_TIMEOUT_MS"];

function thrown(fn: () => unknown): LicenseError {
  try {
    fn();
  } catch (err) {
    if (isLicenseError(err)) return err;
    throw err;
  }
  throw new Error("expected a LicenseError");
}

describe("database timeouts, without a database", () => {
  for (const variable of TIMEOUT_VARS) {
    for (const value of ["0", "-1", "abc", "5s", "1.5", "1e4", "99", "600001", " "]) {
      if (value.trim() === "") continue;
      it(`refuses ${variable}=${JSON.stringify(value)} with CONFIG_INVALID naming the variable`, () => {
        const env = { ...URL_ONLY, [variable]: value };
        for (const load of [
          () => loadDatabaseConfig(env, {}, "/home/nobody"),
          () => loadServerConfig(env, {}, "/home/nobody"),
        ]) {
          const err = thrown(load);
          expect(err.code).toBe("CONFIG_INVALID");
          expect(err.message).toContain(variable);
          expect(err.message).toContain("milliseconds");
        }
      });
    }
  }

  it("answers 503 DATABASE_UNAVAILABLE for a statement the server cancelled at its statement_timeout", () => {
    const cancelled = Object.assign(new Error("canceling statement due to statement timeout"), {
      code: "57014",
    });
    expect(isConnectionError(cancelled)).toBe(true);
    expect(toClientError(cancelled).code).toBe("DATABASE_UNAVAILABLE");
  });

  it("passes the timeouts to the PostgreSQL database, and leaves them to the adapter when unset", () => {
    const set = loadDatabaseConfig(
      {
        ...URL_ONLY,
        DATATOOLS_DB_CONNECT_TIMEOUT_MS: "2000",
        DATATOOLS_DB_QUERY_TIMEOUT_MS: " 7000 ",
      },
      {},
      "/home/nobody",
    ).database;
    expect(set).toMatchObject({ kind: "postgres", connectTimeoutMs: 2000, queryTimeoutMs: 7000 });
    const unset = loadDatabaseConfig(URL_ONLY, {}, "/home/nobody").database;
    expect(unset).not.toHaveProperty("connectTimeoutMs");
    expect(unset).not.toHaveProperty("queryTimeoutMs");
  });
});

describe.runIf(Boolean(process.env.TEST_DATABASE_URL))("a stalled PostgreSQL link", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let direct: Database;
  let relay: Relay;
  const token = generateToken();
  const auth = { authorization: `Bearer ${token}` };
  const opened: { app: FastifyInstance; db: Database }[] = [];

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    direct = openPostgres({ url: scratch.url });
    await migrate(direct);
    await insertToken(direct, "ops", token, "test", START);
    const target = new URL(scratch.url);
    relay = await startRelay(target.hostname, Number(target.port || 5432));
  });
  afterEach(async () => {
    relay.resume();
    for (const { app, db } of opened.splice(0)) {
      await app.close();
      await db.close();
    }
  });
  afterAll(async () => {
    await relay?.close();
    await direct?.close();
    await scratch?.drop();
  });

  /** An app whose database is reached through the relay. */
  async function appThrough(db: Database): Promise<FastifyInstance> {
    const app = await buildApp({ db, signer, ring, logStream: false });
    opened.push({ app, db });
    return app;
  }

  /** Runs `request`, returning the response and how long it took. */
  async function timed(request: () => Promise<LightMyRequestResponse>) {
    const started = performance.now();
    const res = await request();
    return { res, ms: performance.now() - started };
  }

  function expectUnavailable(res: LightMyRequestResponse) {
    expect(res.statusCode, res.body).toBe(503);
    expect(errorOf(res).code).toBe("DATABASE_UNAVAILABLE");
  }

  async function storedLicense(email: string): Promise<string> {
    const minted = mintLicense({ name: "Ada Lovelace", email, tier: "pro" }, signer, new Date());
    const row = { ...minted.payload, blob: minted.blob, source: "api" } as const;
    return (await insertLicense(direct, row, { actor: "test" }, new Date())).license_key;
  }

  async function statusOf(key: string): Promise<string> {
    const { rows } = await direct.query<{ status: string }>(
      "SELECT status FROM licenses WHERE license_key = $1",
      [key],
    );
    return rows[0]!.status;
  }

  it("with the default settings, answers a transaction whose queries stall within 10 s and /readyz within its limit, both 503, then recovers", async () => {
    const { database } = loadDatabaseConfig(
      { DATABASE_URL: relay.via(scratch.url) },
      {},
      "/home/nobody",
    );
    const app = await appThrough(await openDatabase(database));
    const key = await storedLicense("default@example.com");
    const revoke = () =>
      app.inject({
        method: "POST",
        url: `/v1/licenses/${key}/revoke`,
        headers: auth,
        payload: { reason: "refunded" },
      });

    // The link freezes inside the transaction, after the row lock is taken.
    relay.stallOn("UPDATE licenses SET status");
    const stuck = await timed(revoke);
    expect(relay.stalled).toBe(true);
    expectUnavailable(stuck.res);
    expect(stuck.ms).toBeLessThan(10_000);

    const ready = await timed(() => app.inject({ method: "GET", url: "/readyz" }));
    expectUnavailable(ready.res);
    expect(ready.ms).toBeLessThan(READY_TIMEOUT_MS + 750);
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);

    relay.resume();
    expect(await statusOf(key)).toBe("active");
    // The abandoned transaction ends when its connection's close reaches the server.
    await until(async () => (await revoke()).statusCode === 200, "the revoke to succeed", 15_000);
    expect(await statusOf(key)).toBe("revoked");
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
  });

  it("answers an admin read, a verify and /readyz 503 within the configured query timeout, then serves again", async () => {
    const app = await appThrough(
      await openDatabase({
        kind: "postgres",
        url: relay.via(scratch.url),
        connectTimeoutMs: 500,
        queryTimeoutMs: 1_000,
      }),
    );
    const key = await storedLicense("small@example.com");
    const read = () => app.inject({ method: "GET", url: `/v1/licenses/${key}`, headers: auth });
    const blob = (await read()).json<{ blob: string }>().blob;
    const verify = () =>
      app.inject({ method: "POST", url: "/v1/licenses/verify", payload: { blob } });

    relay.stall();
    for (const request of [read, verify, () => app.inject({ method: "GET", url: "/readyz" })]) {
      const { res, ms } = await timed(request);
      expectUnavailable(res);
      expect(ms).toBeLessThan(2_500);
    }
    relay.resume();
    expect((await read()).statusCode).toBe(200);
    expect((await verify()).json()).toMatchObject({ code: "VALID" });
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
  });

  it("gives up a stalled transaction after one query timeout, with no second wait for ROLLBACK", async () => {
    const app = await appThrough(
      await openDatabase({
        kind: "postgres",
        url: relay.via(scratch.url),
        connectTimeoutMs: 500,
        queryTimeoutMs: 1_500,
      }),
    );
    const key = await storedLicense("rollback@example.com");
    relay.stallOn("UPDATE licenses SET status");
    const { res, ms } = await timed(() =>
      app.inject({
        method: "POST",
        url: `/v1/licenses/${key}/suspend`,
        headers: auth,
        payload: { reason: "chargeback" },
      }),
    );
    expect(relay.stalled).toBe(true);
    expectUnavailable(res);
    expect(ms).toBeLessThan(2_700);
    relay.resume();
    expect(await statusOf(key)).toBe("active");
  });

  it("answers requests queued for a full pool 503 within the connection timeout", async () => {
    const app = await appThrough(
      await openDatabase({
        kind: "postgres",
        url: relay.via(scratch.url),
        max: 2,
        connectTimeoutMs: 500,
        queryTimeoutMs: 1_000,
      }),
    );
    relay.stall();
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        timed(() => app.inject({ method: "GET", url: "/v1/counts", headers: auth })),
      ),
    );
    for (const { res, ms } of results) {
      expectUnavailable(res);
      expect(ms).toBeLessThan(2_500);
    }
    relay.resume();
    expect((await app.inject({ method: "GET", url: "/v1/counts", headers: auth })).statusCode).toBe(
      200,
    );
  });

  it("bounds a slow statement on a live link the same way, and the pool keeps serving", async () => {
    const db = await openDatabase({ kind: "postgres", url: scratch.url, queryTimeoutMs: 500 });
    try {
      const started = performance.now();
      const err = await db.query("SELECT pg_sleep(3)").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(isConnectionError(err)).toBe(true);
      expect(toClientError(err).code).toBe("DATABASE_UNAVAILABLE");
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it("refuses to open a database whose link is stalled before the first connection, within the connection timeout", async () => {
    relay.stall();
    const started = performance.now();
    const err = await openDatabase({
      kind: "postgres",
      url: relay.via(scratch.url),
      connectTimeoutMs: 500,
      queryTimeoutMs: 1_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLicenseError(err, "DATABASE_UNAVAILABLE")).toBe(true);
    expect((err as Error).message).toMatch(
      /^cannot use the database at postgres:\/\/\S+: .*timeout/,
    );
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});
