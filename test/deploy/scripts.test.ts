// The deploy/ scripts: --help, usage errors, backup → restore on a real PostgreSQL, and monitor/smoke checks against a stub API.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SCRIPTS = join(ROOT, "deploy/scripts");
const SCRIPT_NAMES = ["backup.sh", "restore.sh", "smoke-test.sh", "monitor.sh"];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a script asynchronously (a stub server in this process must keep answering). */
function run(script: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn("bash", [join(SCRIPTS, script), ...args], {
    env: { PATH: process.env.PATH, HOME: tmpdir(), ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return once(child, "close").then(([code]) => ({ code: code as number, stdout, stderr }));
}

describe("every deploy script", () => {
  for (const name of [...SCRIPT_NAMES, "../drill/adapt-nginx.sh"]) {
    it(`${name} parses, prints --help and refuses an unknown flag with status 2`, async () => {
      expect(spawnSync("bash", ["-n", join(SCRIPTS, name)]).status).toBe(0);
      const help = await run(name, ["--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: /);
      const bad = await run(name, ["--no-such-flag"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--no-such-flag/);
    });
  }

  it("restore.sh --help suggests a compose blob check of the restored database, not the live one", async () => {
    const help = (await run("restore.sh", ["--help"])).stdout;
    const example = /'(docker compose [^']*keys verify-db)'/.exec(help)?.[1];
    expect(example).toBeDefined();
    // Run it as restore.sh would (bash -c, RESTORE_DB_NAME set) with a docker that prints its arguments.
    const bin = mkdtempSync(join(tmpdir(), "dtl-fake-docker-"));
    writeFileSync(join(bin, "docker"), '#!/bin/sh\nprintf "%s|" "$@"\n', { mode: 0o755 });
    const r = spawnSync("bash", ["-c", example!], {
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, RESTORE_DB_NAME: "licenses_drill" },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /\|exec\|-T\|-e\|DATABASE_URL=postgres:\/\/datatools@postgres:5432\/licenses_drill\|api\|dtlicense\|keys\|verify-db\|$/,
    );
  });

  it("each starts with set -euo pipefail", () => {
    for (const name of SCRIPT_NAMES) {
      expect(readFileSync(join(SCRIPTS, name), "utf8"), name).toMatch(/^set -euo pipefail$/m);
    }
  });
});

/** A stub of the API's health, readiness and verify endpoints. */
function stubApi(ready: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/healthz") return json(200, { status: "ok" });
    if (req.url === "/readyz") return ready() ? json(200, { ready: true }) : json(503, {});
    if (req.url === "/v1/licenses/verify" && req.method === "POST") {
      return json(200, { genuine: false, state: "unknown", code: "KEY_UNKNOWN" });
    }
    json(404, { error: { code: "ROUTE_NOT_FOUND", message: "no", request_id: "x" } });
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

describe("monitor.sh and smoke-test.sh against a stub API", () => {
  let server: Server;
  let url: string;
  let ready = true;
  let dir: string;

  beforeAll(async () => {
    server = await stubApi(() => ready);
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), "dtl-monitor-"));
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("monitor.sh is silent and exits 0 when the API is ready and the backup is fresh", async () => {
    ready = true;
    writeFileSync(join(dir, "licenses-20260101T000000Z.dump"), "x");
    writeFileSync(join(dir, "licenses-20260101T000000Z.dump.sha256"), "x");
    const r = await run("monitor.sh", ["--api-url", url, "--public-url", "", "--backup-dir", dir]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("monitor.sh prints one line per problem and exits 1", async () => {
    ready = false;
    const old = new Date(Date.now() - 3 * 86_400_000);
    utimesSync(join(dir, "licenses-20260101T000000Z.dump"), old, old);
    const r = await run("monitor.sh", ["--api-url", url, "--public-url", "", "--backup-dir", dir]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^monitor\.sh: readyz: HTTP 503/);
    expect(lines[1]).toMatch(/^monitor\.sh: backup: the newest backup .* is 7\d hours old/);
  });

  it("monitor.sh reports an API that does not answer and a missing backup", async () => {
    const empty = mkdtempSync(join(dir, "empty-"));
    const r = await run("monitor.sh", [
      "--api-url",
      "http://127.0.0.1:9",
      "--public-url",
      "",
      "--backup-dir",
      empty,
      "--timeout",
      "2",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^monitor\.sh: healthz: no answer/m);
    expect(r.stdout).toMatch(/^monitor\.sh: readyz: no answer/m);
    expect(r.stdout).toMatch(/^monitor\.sh: backup: no licenses-\*\.dump/m);
  });

  it("monitor.sh reports an empty newest backup", async () => {
    ready = true;
    const d = mkdtempSync(join(dir, "empty-dump-"));
    writeFileSync(join(d, "licenses-20260102T000000Z.dump"), "");
    writeFileSync(join(d, "licenses-20260102T000000Z.dump.sha256"), "x");
    const r = await run("monitor.sh", ["--api-url", url, "--public-url", "", "--backup-dir", d]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^monitor\.sh: backup: .*licenses-20260102T000000Z\.dump is empty/),
    ]);
  });

  it("monitor.sh and smoke-test.sh refuse bad option values with status 2 before checking anything", async () => {
    for (const [script, args] of [
      ["monitor.sh", ["--public-url", "http://license.example.com"]],
      ["monitor.sh", ["--cert-days", "soon"]],
      ["smoke-test.sh", ["--timeout", "10s"]],
      ["backup.sh", ["--retention-days", "two"]],
    ] as const) {
      const r = await run(script, [...args]);
      expect(r.code, `${script} ${args.join(" ")}`).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(new RegExp(`^${script.replace(".", "\\.")}: `));
    }
  });

  it("smoke-test.sh passes against a ready API over plain HTTP and fails when it is not ready", async () => {
    ready = true;
    const good = await run("smoke-test.sh", ["--url", url]);
    expect(good.stdout).toMatch(/^ok {4}verify round trip: HTTP 200/m);
    expect(good.code).toBe(0);
    ready = false;
    const bad = await run("smoke-test.sh", ["--url", url]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL {2}readyz: HTTP 503/m);
  });
});

const PG = process.env.TEST_DATABASE_URL;

describe.skipIf(!PG)("backup.sh and restore.sh on PostgreSQL (TEST_DATABASE_URL)", () => {
  const suffix = `${process.pid}_${Date.now()}`;
  const src = `dtl_backup_src_${suffix}`;
  const dst = `dtl_backup_dst_${suffix}`;
  const dbUrl = (name: string) => PG!.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const psql = (name: string, sql: string) => {
    const r = spawnSync(
      "psql",
      ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dbUrl(name), "-c", sql],
      {
        encoding: "utf8",
      },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  };
  let out: string;
  let dump: string;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "dtl-backup-"));
    psql("postgres", `CREATE DATABASE ${src}`);
    psql(
      src,
      `CREATE TABLE licenses (license_key text PRIMARY KEY, blob text NOT NULL);
       INSERT INTO licenses SELECT 'K' || g, 'B' || g FROM generate_series(1, 40) g;
       CREATE TABLE events (id int); INSERT INTO events VALUES (1), (2), (3);`,
    );
    const log = join(out, "issued.jsonl");
    writeFileSync(log, '{"license_key":"K1"}\n');
    // An old backup of ours that the retention must remove, and a stranger's file it must keep.
    writeFileSync(join(out, "licenses-20000101T000000Z.dump"), "old");
    writeFileSync(join(out, "notes.txt"), "keep");
    const old = new Date(Date.now() - 30 * 86_400_000);
    utimesSync(join(out, "licenses-20000101T000000Z.dump"), old, old);
    utimesSync(join(out, "notes.txt"), old, old);
    const r = await run("backup.sh", [
      "--db-url",
      dbUrl(src),
      "--password-file",
      "/nonexistent",
      "--out-dir",
      out,
      "--retention-days",
      "7",
      "--issuance-log",
      log,
    ]);
    expect(r.stderr).toMatch(/removed old backup .*licenses-20000101T000000Z\.dump/);
    expect(r.code).toBe(0);
    dump = r.stdout.trim();
  });

  afterAll(() => {
    psql("postgres", `DROP DATABASE IF EXISTS ${src}`);
    psql("postgres", `DROP DATABASE IF EXISTS ${dst}`);
    rmSync(out, { recursive: true, force: true });
  });

  it("writes a timestamped custom-format dump with its checksum and the issuance log beside it, and applies the retention", () => {
    expect(dump).toMatch(/\/licenses-\d{8}T\d{6}Z\.dump$/);
    const base = dump.slice(out.length + 1);
    expect(readdirSync(out).sort()).toEqual(
      [
        base,
        `${base}.sha256`,
        base.replace(".dump", ".issued.jsonl"),
        base.replace(".dump", ".issued.jsonl.sha256"),
        "issued.jsonl",
        "notes.txt",
      ].sort(),
    );
    expect(readFileSync(dump).subarray(0, 5).toString()).toBe("PGDMP");
    expect(spawnSync("sha256sum", ["-c", `${base}.sha256`], { cwd: out }).status).toBe(0);
  });

  it("refuses a dump whose checksum does not match, or whose checksum file vouches for another file, creating nothing", async () => {
    const sum = readFileSync(`${dump}.sha256`, "utf8");
    // tampered.sha256 names the tampered file; swapped.sha256 still names the
    // genuine dump, which `sha256sum -c` alone would have checked instead.
    for (const [name, sha] of [
      ["tampered.dump", sum.replace(/\S+$/m, "tampered.dump")],
      ["swapped.dump", sum],
    ] as const) {
      const bad = join(out, name);
      writeFileSync(bad, readFileSync(dump));
      appendFileSync(bad, "x");
      writeFileSync(`${bad}.sha256`, sha);
      const r = await run("restore.sh", [
        "--db-url",
        dbUrl(dst),
        "--create",
        "--no-verify-blobs",
        bad,
      ]);
      expect(r.code, name).toBe(3);
      expect(r.stderr).toMatch(/checksum mismatch/);
      expect(psql("postgres", `SELECT count(*) FROM pg_database WHERE datname = '${dst}'`)).toBe(
        "0",
      );
    }
  });

  it("backup.sh that cannot dump exits 1 and leaves no file behind", async () => {
    const empty = mkdtempSync(join(tmpdir(), "dtl-backup-fail-"));
    try {
      const r = await run("backup.sh", [
        "--db-url",
        dbUrl(`dtl_no_such_db_${suffix}`),
        "--password-file",
        "/nonexistent",
        "--out-dir",
        empty,
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^backup\.sh: error: pg_dump of .* failed/m);
      expect(r.stdout).toBe("");
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("restores into a new empty database, checks row counts and runs the blob check against it", async () => {
    const r = await run("restore.sh", [
      "--db-url",
      dbUrl(dst),
      "--create",
      "--verify-with",
      'echo "blob check on $DATABASE_URL ($RESTORE_DB_NAME)"',
      dump,
    ]);
    expect(r.stderr).toMatch(/rows ok: public\.licenses 40/);
    expect(r.stderr).toMatch(/rows ok: public\.events 3/);
    expect(r.stderr).toContain(`blob check on ${dbUrl(dst)} (${dst})`);
    expect(r.code).toBe(0);
    expect(psql(dst, "SELECT count(*) FROM licenses")).toBe("40");
  });

  it("refuses to restore into a database that is not empty, leaving it unchanged", async () => {
    psql(dst, "INSERT INTO events VALUES (99)");
    const r = await run("restore.sh", ["--db-url", dbUrl(dst), "--no-verify-blobs", dump]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is not empty/);
    expect(psql(dst, "SELECT count(*) FROM events")).toBe("4");
  });

  it("fails the restore when the blob check fails", async () => {
    psql("postgres", `DROP DATABASE ${dst}`);
    const r = await run("restore.sh", [
      "--db-url",
      dbUrl(dst),
      "--create",
      "--verify-with",
      "exit 1",
      dump,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the blob check failed/);
  });
});
