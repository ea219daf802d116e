// The operator commands that open the database — admin token create, import, keys reissue
// --from-db, keys verify-db, doctor — on the embedded database and (with TEST_DATABASE_URL) on
// a real PostgreSQL server, locally and through a running server's API (--url), all through
// the service operations the server uses.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyBlob } from "../../src/core/format.js";
import { generateKeypair, importSigner, KeyRing } from "../../src/core/keys.js";
import { mintLicense } from "../../src/core/mint.js";
import { toRecord } from "../../src/issuer/issue.js";
import { runInProcess, spawnCli, tempHome } from "../helpers/cli.js";
import { spawnServer, type ServerProcess } from "../server/spawn.js";
import { backendNames, createScratchDatabase } from "../store/databases.js";

const NOW = new Date("2026-06-01T12:00:00Z");
const TOKEN = /^dtl_admin_[A-Za-z0-9_-]{43}\n$/;

describe.each(backendNames())("the operator commands on %s", (backend) => {
  const home = tempHome("dtl-opdb-");
  const oldPair = generateKeypair();
  const newPair = generateKeypair();
  const oldSigner = importSigner(Buffer.from(oldPair.privateKeyHex, "hex"));
  const ringEnv = [newPair.publicKeyHex, oldPair.publicKeyHex].join(",");
  let env: Record<string, string>;
  let drop: (() => Promise<void>) | undefined;
  const log = join(home, "issued.jsonl");
  const lines = [1, 2, 3].map((i) =>
    toRecord(
      mintLicense(
        { name: `Buyer ${i}`, email: `b${i}@example.com`, tier: "core", years: 2 },
        oldSigner,
        NOW,
      ),
    ),
  );

  beforeAll(async () => {
    if (backend === "postgres") {
      const scratch = await createScratchDatabase();
      drop = scratch.drop;
      env = { DATABASE_URL: scratch.url, DATATOOLS_DATA_DIR: join(home, "data") };
    } else {
      env = { DATATOOLS_DATA_DIR: join(home, "data") };
    }
    writeFileSync(log, lines.map((l) => JSON.stringify(l)).join("\n") + "\n", { mode: 0o600 });
  });
  afterAll(async () => {
    await drop?.();
  });

  const run = (argv: string[], priv = oldPair.privateKeyHex) =>
    runInProcess(argv, {
      home,
      now: NOW,
      env: {
        ...env,
        DATATOOLS_LICENSE_PRIVKEY: priv,
        DATATOOLS_LICENSE_PUBKEY: priv === oldPair.privateKeyHex ? oldPair.publicKeyHex : ringEnv,
      },
    });

  it("imports a log directly, migrating first, and a second run adds nothing", async () => {
    const first = await run(["import", log, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ imported: 3, already_present: 0, rejected: [] });
    const again = await run(["import", log, "--json"]);
    expect(JSON.parse(again.stdout)).toEqual({ imported: 0, already_present: 3, rejected: [] });
  });

  it("creates an admin token directly, lists it and revokes it", async () => {
    const created = await run(["admin", "token", "create", "--name", "ops laptop"]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(TOKEN);
    const listed = await run(["admin", "token", "list", "--json"]);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ name: "ops laptop", created_by: "cli", revoked_at: null }),
    ]);
    const revoked = await run(["admin", "token", "revoke", "ops laptop"]);
    expect(revoked.code, revoked.stderr).toBe(0);
  });

  it("re-issues the active licenses under the new key, and verify-db checks every blob", async () => {
    const out = join(home, "buyers.json");
    const r = await run(["keys", "reissue", "--from-db", "-o", out], newPair.privateKeyHex);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(readFileSync(out, "utf8")) as {
      blob: string;
      old_license_key: string;
    }[];
    expect(list.map((l) => l.old_license_key).sort()).toEqual(
      lines.map((l) => l.license_key).sort(),
    );
    const ring = new KeyRing([importSigner(Buffer.from(newPair.privateKeyHex, "hex")).publicKey]);
    for (const l of list) expect(verifyBlob(l.blob, ring).payload.kid).toBe(newPair.kid);
    const checked = await run(["keys", "verify-db", "--json"], newPair.privateKeyHex);
    expect(checked.code, checked.stderr).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ ok: true, total: 6, problems: [] });
  });

  it("doctor finds the database reachable and its licenses signed by trusted keys", async () => {
    const r = await run(["doctor", "--json"], newPair.privateKeyHex);
    const report = JSON.parse(r.stdout) as { findings: { check: string; level: string }[] };
    const levels = Object.fromEntries(report.findings.map((f) => [f.check, f.level]));
    expect(levels).toMatchObject({
      database: "ok",
      migrations: "ok",
      "stored licenses": "ok",
    });
  });

  describe("through a running server's API (--url)", () => {
    let server: ServerProcess;
    let tokenFile: string;
    beforeAll(async () => {
      // A token made directly, before the server holds an embedded database open.
      const made = await run(["admin", "token", "create", "--name", "url client"]);
      expect(made.code, made.stderr).toBe(0);
      tokenFile = join(home, "url-token");
      writeFileSync(tokenFile, made.stdout, { mode: 0o600 });
      server = await spawnServer([], {
        HOME: home,
        ...env,
        DATATOOLS_LICENSE_PRIVKEY: newPair.privateKeyHex,
        DATATOOLS_LICENSE_PUBKEY: ringEnv,
      });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it("creates an admin token and imports a log through the API, with the same answers", async () => {
      const created = await spawnCli(
        [
          "admin",
          "token",
          "create",
          "--name",
          "over the API",
          "--url",
          server.url,
          "--token-file",
          tokenFile,
        ],
        { HOME: home, ...env },
      );
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toMatch(TOKEN);
      const imported = await spawnCli(
        ["import", log, "--json", "--url", server.url, "--token-file", tokenFile],
        { HOME: home, ...env },
      );
      expect(imported.code, imported.stderr).toBe(0);
      expect(JSON.parse(imported.stdout)).toEqual({
        imported: 0,
        already_present: 3,
        rejected: [],
      });
    });
  });
});
