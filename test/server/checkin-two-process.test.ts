// Seats under concurrency: two `dtlicense serve` processes on one PostgreSQL database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANSWER_PREFIX } from "../../src/core/answer.js";
import { DEV_PUBLIC_KEY_HEX } from "../../src/core/keys.js";
import { spawnCli, tempHome } from "../helpers/cli.js";
import { noble } from "../core/support.js";
import type { ServerProcess } from "./spawn.js";
import { startTwoServers, type TwoServers } from "./two-servers.js";

const ed = noble();
const devKey = new Uint8Array(Buffer.from(DEV_PUBLIC_KEY_HEX, "hex"));

describe.runIf(Boolean(process.env.TEST_DATABASE_URL))(
  "seats with two servers on one PostgreSQL database",
  () => {
    let two: TwoServers;
    beforeAll(async () => {
      two = await startTwoServers("dtl-seats-", { DATATOOLS_VERIFY_RATE_LIMIT: "100000" });
    });
    afterAll(async () => {
      await two?.stop();
    });
    const count = async (sql: string) => Number((await two.query<{ n: unknown }>(sql))[0]!.n);

    /** Posts JSON and checks the answer's signature with @noble/ed25519 over DTLRESP1: + body. */
    async function post(server: ServerProcess, path: string, body: unknown) {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const header = res.headers.get("dtl-signature") ?? "";
      const sig = Buffer.from(header.replace(/^kid=[0-9a-f]{16};sig=/, ""), "base64url");
      const message = Buffer.concat([Buffer.from(ANSWER_PREFIX, "ascii"), bytes]);
      expect(ed.verify(new Uint8Array(sig), message, devKey), `${path} answer is signed`).toBe(
        true,
      );
      return { status: res.status, body: JSON.parse(Buffer.from(bytes).toString("utf8")) };
    }

    it("gives exactly 3 seats to 30 machines activating at once through both servers", async () => {
      const issued = await fetch(`${two.servers[0]!.url}/v1/licenses`, {
        method: "POST",
        headers: { authorization: `Bearer ${two.token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "Ada", email: "ada@example.com", tier: "pro", seats: 3 }),
      });
      expect(issued.status).toBe(201);
      const { blob, license_key } = (await issued.json()) as { blob: string; license_key: string };
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          post(two.servers[i % 2]!, "/v1/activations", {
            blob,
            fingerprint: `machine-${String(i).padStart(4, "0")}`,
            nonce: `nonce-race-${String(i).padStart(8, "0")}`,
          }),
        ),
      );
      const won = answers.filter((a) => a.status === 201);
      const lost = answers.filter((a) => a.status === 409);
      expect(won).toHaveLength(3);
      expect(lost).toHaveLength(27);
      for (const a of lost) expect(a.body.code).toBe("SEAT_LIMIT_REACHED");
      expect(
        await count(
          `SELECT count(*) AS n FROM activations WHERE license_key = '${license_key}' AND released_at IS NULL`,
        ),
      ).toBe(3);
      expect(
        await count(
          `SELECT count(*) AS n FROM events WHERE license_key = '${license_key}' AND action = 'activate'`,
        ),
      ).toBe(3);

      // A winner releases through one server; a loser then gets the seat through the other.
      const winner = won[0]!.body.activation.fingerprint as string;
      const freed = await post(two.servers[1]!, "/v1/activations/release", {
        blob,
        fingerprint: winner,
        nonce: "nonce-release-000001",
      });
      expect(freed.body.code).toBe("RELEASED");
      const again = await post(two.servers[0]!, "/v1/activations", {
        blob,
        fingerprint: lost[0]!.body.activation?.fingerprint ?? "machine-late-0001",
        nonce: "nonce-again-0000001",
      });
      expect(again.status).toBe(201);

      // The events of both processes form one unbroken chain.
      const ledger = await spawnCli(["ledger", "verify", "--db", "--json"], {
        HOME: tempHome(),
        DATABASE_URL: two.url,
      });
      expect(ledger.code, ledger.stderr).toBe(0);
      expect(JSON.parse(ledger.stdout).events).toMatchObject({ ok: true, broken: null });

      // Admins see and free seats from the command line, over the API.
      const env = { HOME: tempHome(), DATATOOLS_ADMIN_TOKEN: two.token };
      const url = ["--url", two.servers[1]!.url];
      const listed = await spawnCli(["seats", "list", license_key, ...url, "--json"], env);
      expect(listed.code, listed.stderr).toBe(0);
      const list = JSON.parse(listed.stdout) as {
        seats: { limit: number; used: number };
        activations: { id: number; fingerprint: string; released_at: string | null }[];
      };
      expect(list.seats).toEqual({ limit: 3, used: 3 });
      const held = list.activations.find((a) => a.released_at === null)!;
      const released = await spawnCli(["seats", "release", String(held.id), ...url], env);
      expect(released.code, released.stderr).toBe(0);
      expect(released.stderr).toContain(`released seat ${held.id} of ${license_key}`);
      const twice = await spawnCli(["seats", "release", String(held.id), ...url], env);
      expect(twice.code).toBe(1);
      expect(twice.stderr).toContain("[LICENSE_STATE_CONFLICT]");
      const text = await spawnCli(["seats", "list", license_key, ...url], env);
      expect(text.stdout).toContain(`${license_key}: 2 seat(s) in use, limit 3`);
      const set = await spawnCli(["seats", "set", license_key, "none", ...url], env);
      expect(set.code, set.stderr).toBe(0);
      expect(set.stderr).toContain(`${license_key} now has no seat limit`);
      const bad = await spawnCli(["seats", "set", license_key, "lots", ...url], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("[USAGE]");
    });
  },
);
