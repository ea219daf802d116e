// Two `dtlicense serve` processes on one PostgreSQL database, issuing at the same time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { spawnCli, tempHome } from "../helpers/cli.js";
import type { ServerProcess } from "./spawn.js";
import { startTwoServers, type TwoServers } from "./two-servers.js";

describe.runIf(Boolean(process.env.TEST_DATABASE_URL))(
  "two servers on one PostgreSQL database",
  () => {
    let two: TwoServers;
    beforeAll(async () => {
      // Both start at once on an empty database: migrations and the first token must happen once.
      two = await startTwoServers("dtl-two-");
    });
    afterAll(async () => {
      await two?.stop();
    });
    const query = <T>(sql: string) => two.query<T>(sql);

    const issue = (server: ServerProcess, i: number, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/v1/licenses`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${two.token}`,
          "content-type": "application/json",
          ...headers,
        },
        body: JSON.stringify({ name: `Buyer ${i}`, email: `buyer${i}@example.com`, tier: "core" }),
      });

    it("migrated once and stored one initial token", async () => {
      expect(await query("SELECT version FROM schema_migrations ORDER BY version")).toEqual(
        MIGRATIONS.map((m) => ({ version: m.version })),
      );
      expect(await query("SELECT name FROM admin_tokens")).toEqual([{ name: "initial" }]);
      expect(two.servers[0]!.url).not.toBe(two.servers[1]!.url);
    });

    it("issues from both at once with no duplicate keys and one audit event per license", async () => {
      const N = 200;
      const responses = await Promise.all(
        Array.from({ length: N }, (_, i) => issue(two.servers[i % 2]!, i)),
      );
      const bodies = await Promise.all(
        responses.map((r) => r.json() as Promise<{ license_key: string }>),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(N).fill(201));
      const keys = new Set(bodies.map((b) => b.license_key));
      expect(keys.size).toBe(N);
      const [counts] = await query<{
        licenses: number;
        keys: number;
        events: number;
        orphans: number;
      }>(`
      SELECT (SELECT count(*)::int FROM licenses) AS licenses,
             (SELECT count(DISTINCT license_key)::int FROM licenses) AS keys,
             (SELECT count(*)::int FROM events WHERE action = 'issue') AS events,
             (SELECT count(*)::int FROM licenses l WHERE
                (SELECT count(*) FROM events e WHERE e.license_key = l.license_key AND e.action = 'issue') <> 1) AS orphans`);
      expect(counts).toEqual({ licenses: N, keys: N, events: N, orphans: 0 });
      // The two processes appended to one hash chain of events, not two forks of it.
      const ledger = await spawnCli(["ledger", "verify", "--db", "--json"], {
        HOME: tempHome(),
        DATABASE_URL: two.url,
      });
      expect(ledger.code, ledger.stderr).toBe(0);
      expect(JSON.parse(ledger.stdout).events).toMatchObject({
        ok: true,
        events: N,
        chained: N,
        broken: null,
      });
    });

    it("gives one license for one Idempotency-Key sent to both servers at once", async () => {
      const before = (await query<{ n: number }>("SELECT count(*)::int AS n FROM licenses"))[0]!.n;
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          issue(two.servers[i % 2]!, 9999, { "idempotency-key": "shared-order-1" }),
        ),
      );
      const bodies = await Promise.all(
        responses.map((r) => r.json() as Promise<{ license_key: string }>),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
      expect(new Set(bodies.map((b) => b.license_key)).size).toBe(1);
      const after = (await query<{ n: number }>("SELECT count(*)::int AS n FROM licenses"))[0]!.n;
      expect(after - before).toBe(1);
    });

    it("sees a token revoked through one server as revoked on the other", async () => {
      const created = await fetch(`${two.servers[0]!.url}/v1/admin/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${two.token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "temp" }),
      });
      const t = (await created.json()) as { id: number; token: string };
      const ok = await fetch(`${two.servers[1]!.url}/v1/counts`, {
        headers: { authorization: `Bearer ${t.token}` },
      });
      expect(ok.status).toBe(200);
      await fetch(`${two.servers[0]!.url}/v1/admin/tokens/${t.id}/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${two.token}` },
      });
      const refused = await fetch(`${two.servers[1]!.url}/v1/counts`, {
        headers: { authorization: `Bearer ${t.token}` },
      });
      expect(refused.status).toBe(401);
    });
  },
);
