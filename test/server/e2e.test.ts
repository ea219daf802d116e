// The paths people hit, over real sockets with the built CLI: serve, first-start token,
// issue/verify/re-deliver, admin tokens, import, activation of a served blob, shutdown.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintLicense } from "../../src/core/mint.js";
import { toRecord } from "../../src/issuer/issue.js";
import { LATEST_VERSION } from "../../src/store/migrations.js";
import { spawn } from "node:child_process";
import { request } from "node:http";
import { CLI_PATH, spawnCli, tempHome } from "../helpers/cli.js";
import { START, signer } from "./harness.js";
import { spawnServer, type ServerProcess } from "./spawn.js";

/** Polls `check` until it is true; fails after `ms`. */
async function until(check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("dtlicense serve on the embedded database", () => {
  let home: string;
  let server: ServerProcess;
  let token: string;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        ...(init.headers ?? {}),
      },
    });

  beforeAll(async () => {
    home = tempHome("dtl-serve-");
    server = await spawnServer([], { HOME: home });
    token = readFileSync(join(home, ".datatools-license", "admin-token"), "utf8").trim();
  });
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  it("binds 127.0.0.1, says where its data is, and writes the first admin token to a mode-600 file", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const dataDir = join(home, ".datatools-license");
    expect(server.stderr()).toContain(`data: ${join(dataDir, "pgdata")}`);
    expect(server.stderr()).toContain(join(dataDir, "admin-token"));
    expect(statSync(join(dataDir, "admin-token")).mode & 0o777).toBe(0o600);
    expect(token).toMatch(/^dtl_admin_[A-Za-z0-9_-]{43}$/);
    expect(server.stdout() + server.stderr()).not.toContain(token);
  });

  it("issues over HTTP, verifies, re-delivers the blob unchanged, and the blob activates", async () => {
    const res = await api("/v1/licenses", {
      method: "POST",
      body: JSON.stringify({ name: "Grace Hopper", email: "grace@example.com", tier: "pro" }),
    });
    expect(res.status).toBe(201);
    const l = (await res.json()) as { license_key: string; blob: string };
    const v = await fetch(`${server.url}/v1/licenses/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ blob: l.blob }),
    });
    expect(await v.json()).toMatchObject({ genuine: true, state: "active", code: "VALID" });
    const blob = await (await api(`/v1/licenses/${l.license_key}/blob`)).text();
    expect(blob).toBe(l.blob);

    const buyerHome = tempHome("dtl-buyer-");
    const act = await spawnCli(
      ["activate", blob, "--name", "Grace Hopper", "--email", "grace@example.com"],
      {
        HOME: buyerHome,
      },
    );
    expect(act.code, act.stderr).toBe(0);
    const status = await spawnCli(["status"], { HOME: buyerHome });
    expect(status.stdout + status.stderr).toContain(l.license_key);
  });

  it("answers a malformed body with the error shape over a real socket", async () => {
    const res = await api("/v1/licenses", { method: "POST", body: '{"name":' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; request_id: string } };
    expect(body.error.code).toBe("REQUEST_INVALID");
    expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
  });

  it("creates, lists and revokes admin tokens over the API; create prints the token alone", async () => {
    const tokenFile = join(home, "token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const created = await spawnCli(
      ["admin", "token", "create", "--name", "ci", "--url", server.url, "--token-file", tokenFile],
      { HOME: home },
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^dtl_admin_[A-Za-z0-9_-]{43}\n$/);
    const ci = created.stdout.trim();
    const listed = await spawnCli(["admin", "token", "list", "--url", server.url], {
      HOME: home,
      DATATOOLS_ADMIN_TOKEN: ci,
    });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain("initial");
    expect(listed.stdout).toContain("ci");
    expect(listed.stdout).not.toContain(ci);
    const revoked = await spawnCli(
      ["admin", "token", "revoke", "ci", "--url", server.url, "--token-file", tokenFile],
      { HOME: home },
    );
    expect(revoked.code, revoked.stderr).toBe(0);
    const refused = await spawnCli(["admin", "token", "list", "--url", server.url], {
      HOME: home,
      DATATOOLS_ADMIN_TOKEN: ci,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("[AUTH_INVALID]");
    chmodSync(tokenFile, 0o644);
    const insecure = await spawnCli(
      ["admin", "token", "list", "--url", server.url, "--token-file", tokenFile],
      { HOME: home },
    );
    expect(insecure.stderr).toContain("[FILE_INSECURE]");
  });

  it("imports a log through the API, reporting bad lines by number, and adds nothing the second time", async () => {
    const lines = [1, 2].map((i) =>
      JSON.stringify(
        toRecord(mintLicense({ name: `Log ${i}`, email: `log${i}@example.com` }, signer, START)),
      ),
    );
    const file = join(home, "issued.jsonl");
    writeFileSync(file, `${lines[0]}\nnot json\n${lines[1]}\n{"torn`);
    const env = { HOME: home, DATATOOLS_ADMIN_TOKEN: token };
    const first = await spawnCli(["import", file, "--url", server.url], env);
    expect(first.code).toBe(1);
    expect(first.stdout).toBe("imported 2, already present 0, rejected 2\n");
    expect(first.stderr).toContain("line 2:");
    expect(first.stderr).toContain("line 4:");
    const second = await spawnCli(["import", file, "--url", server.url, "--json"], env);
    expect(JSON.parse(second.stdout)).toMatchObject({ imported: 0, already_present: 2 });
  });

  it("finishes and exits 0 on SIGTERM, closing the database", async () => {
    const code = await server.stop("SIGTERM");
    expect(code).toBe(0);
    expect(server.stderr()).toContain("stopped");
    // The embedded database is free again: a direct command can open it.
    const status = await spawnCli(["db", "status"], { HOME: home });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`schema version ${LATEST_VERSION}`);
  });
});

describe("dtlicense serve shutdown", () => {
  it("finishes a request in flight when SIGTERM arrives, then exits 0", async () => {
    const home = tempHome("dtl-stop-");
    const s = await spawnServer([], { HOME: home, DATATOOLS_LOG_LEVEL: "warn" });
    const token = readFileSync(join(home, ".datatools-license", "admin-token"), "utf8").trim();
    const records = Array.from({ length: 1000 }, (_, i) =>
      toRecord(mintLicense({ name: `Slow ${i}`, email: `slow${i}@example.com` }, signer, START)),
    );
    const body = Buffer.from(JSON.stringify({ records }));
    // Expect: 100-continue: the server answers "continue" once it has the request, so the
    // request is in flight; the rest of the body is sent only after the server has begun
    // stopping, so the request is still in flight then.
    const req = request(`${s.url}/v1/licenses/import`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "content-length": body.length,
        expect: "100-continue",
      },
    });
    const response = new Promise<{ status: number; text: string }>((done, fail) => {
      req.on("response", (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => done({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", fail);
    });
    await new Promise<void>((done) => req.once("continue", done));
    req.write(body.subarray(0, 1000));
    const exited = s.stop("SIGTERM");
    await until(() => s.stderr().includes("SIGTERM: finishing in-flight requests"));
    req.end(body.subarray(1000));
    const res = await response;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ imported: 1000 });
    expect(await exited).toBe(0);
  });
});

describe("dtlicense serve stopped while starting", () => {
  it("still starts cleanly, then stops and exits 0 on a SIGTERM sent during start-up", async () => {
    const home = tempHome("dtl-early-");
    const child = spawn(process.execPath, [CLI_PATH, "serve", "--port", "0"], {
      env: { PATH: process.env.PATH, HOME: home },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    // The line serve prints once it handles signals, before it opens the database.
    await until(() => err.includes("dtlicense: starting"));
    const atSignal = err;
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    // Sent during start-up: before the server listened.
    expect(atSignal).not.toContain("listening on");
    expect(err).toContain("listening on");
    expect(err).toContain("SIGTERM: finishing in-flight requests");
    expect(err).toContain("stopped");
  });
});

describe("dtlicense serve configuration", () => {
  const fails = async (env: Record<string, string>, args: string[] = ["--port", "0"]) => {
    const home = tempHome("dtl-conf-");
    const r = await spawnCli(["serve", ...args], { HOME: home, ...env });
    expect(r.code).toBe(1);
    const lines = r.stderr
      .trim()
      .split("\n")
      .filter((l) => !l.includes("warning:") && !l.startsWith("dtlicense: starting (pid "));
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  it("stops with one line naming the variable for each bad value", async () => {
    expect(await fails({ DATATOOLS_SERVER_PORT: "eighty" }, [])).toMatch(
      /^dtlicense: DATATOOLS_SERVER_PORT: .*\[CONFIG_INVALID\]$/,
    );
    expect(await fails({}, ["--port", "99999"])).toContain("--port");
    expect(await fails({ DATATOOLS_VERIFY_RATE_LIMIT: "lots" })).toContain(
      "DATATOOLS_VERIFY_RATE_LIMIT",
    );
    expect(await fails({ DATATOOLS_TRUSTED_PROXIES: "10.0.0.0/99" })).toContain(
      "DATATOOLS_TRUSTED_PROXIES",
    );
    expect(await fails({ DATABASE_URL: "mysql://x@localhost/db" })).toContain("DATABASE_URL");
    expect(await fails({ DATATOOLS_LOG_LEVEL: "loud" })).toContain("DATATOOLS_LOG_LEVEL");
    expect(await fails({ DATATOOLS_LICENSE_PRIVKEY: "abc" })).toContain(
      "DATATOOLS_LICENSE_PRIVKEY",
    );
    expect(await fails({ NODE_ENV: "production" })).toContain("[DEV_KEY_IN_PRODUCTION]");
    expect(await fails({ DATABASE_URL: "postgres://app:hunter2@127.0.0.1:1/licenses" })).toMatch(
      /cannot use the database at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/licenses: .*\[DATABASE_UNAVAILABLE\]$/,
    );
  });

  it("refuses secret files that group or others can read", async () => {
    const dir = tempHome("dtl-secrets-");
    const pw = join(dir, "db-password");
    writeFileSync(pw, "secret", { mode: 0o644 });
    chmodSync(pw, 0o644);
    expect(
      await fails({
        DATABASE_URL: "postgres://app@127.0.0.1:5433/licenses",
        DATABASE_PASSWORD_FILE: pw,
      }),
    ).toContain("[FILE_INSECURE]");
    const seed = join(dir, "admin-token");
    writeFileSync(seed, "dtl_admin_short\n", { mode: 0o600 });
    expect(await fails({ DATATOOLS_ADMIN_TOKEN_FILE: seed })).toContain(
      "DATATOOLS_ADMIN_TOKEN_FILE",
    );
  });

  it("takes the first admin token from DATATOOLS_ADMIN_TOKEN_FILE and writes no token file", async () => {
    const home = tempHome("dtl-seed-");
    const secrets = join(home, "secrets");
    mkdirSync(secrets, { mode: 0o700 });
    const gen = await spawnCli(["admin", "token", "generate"], { HOME: home });
    const seed = gen.stdout.trim();
    writeFileSync(join(secrets, "admin-token"), `${seed}\n`, { mode: 0o400 });
    const dataDir = join(home, "data");
    const s = await spawnServer(["--data-dir", dataDir], {
      HOME: home,
      DATATOOLS_ADMIN_TOKEN_FILE: join(secrets, "admin-token"),
    });
    try {
      const res = await fetch(`${s.url}/v1/counts`, {
        headers: { authorization: `Bearer ${seed}` },
      });
      expect(res.status).toBe(200);
      expect(() => statSync(join(dataDir, "admin-token"))).toThrow();
      expect(s.stdout()).not.toContain(seed);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

describe("dtlicense db, admin and import against the database directly", () => {
  it("migrates, creates a token, and imports a log idempotently with a summary", async () => {
    const home = tempHome("dtl-direct-");
    const env = { HOME: home };
    const m = await spawnCli(["db", "migrate"], env);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain("applied migrations 1");
    expect((await spawnCli(["db", "migrate"], env)).stdout).toContain("nothing to do");
    const t = await spawnCli(["admin", "token", "create", "--name", "ops"], env);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^dtl_admin_[A-Za-z0-9_-]{43}\n$/);
    const file = join(home, "issued.jsonl");
    const recs = [1, 2, 3].map((i) =>
      toRecord(mintLicense({ name: `Direct ${i}`, email: `d${i}@example.com` }, signer, START)),
    );
    const tampered = { ...recs[2]!, email: "someone@else.com" };
    writeFileSync(
      file,
      [recs[0], recs[1], tampered].map((r) => JSON.stringify(r)).join("\n") + "\n",
    );
    const first = await spawnCli(["import", file, "--json"], env);
    expect(first.code).toBe(1);
    expect(JSON.parse(first.stdout)).toEqual({
      imported: 2,
      already_present: 0,
      rejected: [{ line: 3, code: "RECORD_MISMATCH", reason: expect.stringContaining("email") }],
    });
    const second = await spawnCli(["import", file], env);
    expect(second.stdout).toBe("imported 0, already present 2, rejected 1\n");
    const missing = await spawnCli(["import", join(home, "nope.jsonl")], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("[FILE_UNREADABLE]");
  });
  it("verifies a large import on worker threads with the same results", async () => {
    const home = tempHome("dtl-pool-");
    const env = { HOME: home };
    const lines = Array.from({ length: 5000 }, (_, i) =>
      toRecord(mintLicense({ name: `Pool ${i}`, email: `p${i}@example.com` }, signer, START)),
    );
    lines[10] = { ...lines[10]!, tier: "pro" };
    const b = lines[4000]!.blob;
    lines[4000] = { ...lines[4000]!, blob: b.slice(0, -3) + (b.endsWith("AAA") ? "BBB" : "AAA") };
    const file = join(home, "big.jsonl");
    writeFileSync(file, lines.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const first = await spawnCli(["import", file, "--json"], env);
    const summary = JSON.parse(first.stdout) as {
      imported: number;
      rejected: { line: number; code: string }[];
    };
    expect(summary.imported).toBe(4998);
    expect(summary.rejected.map((r) => [r.line, r.code])).toEqual([
      [11, "RECORD_MISMATCH"],
      [4001, expect.stringMatching(/SIGNATURE_INVALID|BLOB_ENCODING/)],
    ]);
    const second = await spawnCli(["import", file], env);
    expect(second.stdout).toBe("imported 0, already present 4998, rejected 2\n");
  });
});
