// An app over a test database, with a frozen clock, captured logs and an admin token.
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { DEV_PRIVATE_KEY_HEX, KeyRing, importSigner } from "../../src/core/keys.js";
import { buildApp, type AppOptions } from "../../src/server/app.js";
import { generateToken, insertToken } from "../../src/store/tokens.js";
import { createTestDatabase, type BackendName, type TestDatabase } from "../store/databases.js";

export const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
export const ring = new KeyRing([signer.publicKey]);
export const START = new Date("2026-05-13T22:10:27Z");

export interface Harness {
  readonly t: TestDatabase;
  app: FastifyInstance;
  token: string;
  readonly logs: string[];
  clock: { now: Date };
  /** Builds another app on the same database (e.g. with other options). */
  other(options?: Partial<AppOptions>): Promise<FastifyInstance>;
  reset(): Promise<void>;
  close(): Promise<void>;
  count(table: string): Promise<number>;
}

export async function createHarness(backend: BackendName): Promise<Harness> {
  const t = await createTestDatabase(backend);
  const logs: string[] = [];
  const clock = { now: START };
  const apps: FastifyInstance[] = [];
  const make = async (options: Partial<AppOptions> = {}) => {
    const app = await buildApp({
      db: t.db,
      signer,
      ring,
      now: () => clock.now,
      logStream: { write: (line) => void logs.push(line) },
      verifyRateLimit: 1_000_000,
      ...options,
    });
    apps.push(app);
    return app;
  };
  const h: Harness = {
    t,
    app: await make(),
    token: "",
    logs,
    clock,
    other: make,
    async reset() {
      await t.reset();
      logs.length = 0;
      clock.now = START;
      h.token = generateToken();
      await insertToken(t.db, "test admin", h.token, "test", START);
    },
    async close() {
      for (const app of apps) await app.close();
      await t.dispose();
    },
    async count(table: string) {
      const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      return Number(rows[0]!.n);
    },
  };
  return h;
}

/**
 * One harness for the enclosing describe: built before all its tests, reset before each, closed
 * after all. The value stands for the harness (it is usable once the tests run).
 */
export function useHarness(backend: BackendName): Harness {
  let current: Harness | undefined;
  beforeAll(async () => {
    current = await createHarness(backend);
  }, 60_000);
  afterAll(async () => {
    await current?.close();
  });
  beforeEach(async () => {
    await current!.reset();
  });
  const harness = () => {
    if (!current) throw new Error("the harness is used before its beforeAll ran");
    return current;
  };
  return new Proxy({} as Harness, {
    get: (_, key) => Reflect.get(harness(), key) as unknown,
    set: (_, key, value) => Reflect.set(harness(), key, value),
  });
}

/** The parsed JSON body of a response. */
export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return JSON.parse(res.body) as T;
}

/** Asserts the error shape and returns the code. */
export function errorOf(res: LightMyRequestResponse): {
  code: string;
  message: string;
  request_id: string;
} {
  const body = json<{ error: { code: string; message: string; request_id: string } }>(res);
  return body.error;
}

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
