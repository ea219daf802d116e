// A running server on an embedded database leaves its address in <data-dir>/server.json; the
// commands that would open the locked database go through its API, the others say to stop it.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintLicense } from "../../src/core/mint.js";
import { toRecord } from "../../src/issuer/issue.js";
import { spawnCli, tempHome } from "../helpers/cli.js";
import { START, signer } from "./harness.js";
import { spawnServer, type ServerProcess } from "./spawn.js";

const TOKEN = /^dtl_admin_[A-Za-z0-9_-]{43}\n$/;

describe("commands pointed at the data folder of a running server", () => {
  const home = tempHome("dtl-running-");
  const dataDir = join(home, "data");
  const env = { HOME: home, DATATOOLS_DATA_DIR: dataDir };
  const log = join(home, "issued.jsonl");
  let server: ServerProcess;

  beforeAll(async () => {
    const lines = [1, 2].map((i) =>
      JSON.stringify(
        toRecord(mintLicense({ name: `Run ${i}`, email: `run${i}@example.com` }, signer, START)),
      ),
    );
    writeFileSync(log, lines.join("\n") + "\n");
    server = await spawnServer([], env);
  });
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  it("finds the server's address and pid in server.json, mode 600", () => {
    const file = join(dataDir, "server.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      url: server.url,
      pid: server.child.pid,
    });
  });

  it("import and admin token create|list|revoke go through the server's API with the data folder's admin-token", async () => {
    const imported = await spawnCli(["import", log], env);
    expect(imported.stderr).toContain(`using the API of the server running at ${server.url}`);
    expect(imported.stdout).toBe("imported 2, already present 0, rejected 0\n");
    expect(imported.code).toBe(0);

    const created = await spawnCli(["admin", "token", "create", "--name", "ops laptop"], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(TOKEN);
    const listed = await spawnCli(["admin", "token", "list"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain("ops laptop");
    const revoked = await spawnCli(["admin", "token", "revoke", "ops laptop"], env);
    expect(revoked.code, revoked.stderr).toBe(0);

    // The server answers for what the commands did.
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    const counts = await fetch(`${server.url}/v1/counts`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await counts.json()).toMatchObject({ total: 2 });
  });

  it("uses --token-file or DATATOOLS_ADMIN_TOKEN before the data folder's token", async () => {
    const r = await spawnCli(["admin", "token", "list"], {
      ...env,
      DATATOOLS_ADMIN_TOKEN: "dtl_admin_" + "A".repeat(43),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[AUTH_INVALID\]\n$/);
  });

  it("commands with no API refuse with DATA_DIR_LOCKED, saying to stop the server first", async () => {
    for (const argv of [
      ["db", "migrate"],
      ["keys", "verify-db"],
    ]) {
      const r = await spawnCli(argv, env);
      expect(r.code, argv.join(" ")).toBe(1);
      expect(r.stderr, argv.join(" ")).toMatch(
        new RegExp(
          `in use by the server running at ${server.url} \\(pid ${server.child.pid}\\).*stop it first.*\\[DATA_DIR_LOCKED\\]\\n$`,
        ),
      );
    }
  });

  it("after the server stops, server.json is gone and the commands open the database directly", async () => {
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(existsSync(join(dataDir, "server.json"))).toBe(false);
    const created = await spawnCli(["admin", "token", "create", "--name", "after"], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).not.toContain("using the API");
    const again = await spawnCli(["import", log], env);
    expect(again.stdout).toBe("imported 0, already present 2, rejected 0\n");
    const migrated = await spawnCli(["db", "migrate"], env);
    expect(migrated.code, migrated.stderr).toBe(0);
  });

  it("ignores a server.json whose process is gone (a server that was killed)", async () => {
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    writeFileSync(
      join(dataDir, "server.json"),
      JSON.stringify({ url: "http://127.0.0.1:9", pid: gone }),
      { mode: 0o600 },
    );
    const r = await spawnCli(["admin", "token", "list"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("after");
  });
});
