// The runbook's dtlicense commands (docs/SETUP-LICENSE-SERVER.md) run as the production image runs
// them: the image's dtlicense as a child process with exactly the Dockerfile's (and, for `docker
// compose exec api`, compose's) environment, as uid 10001 when the tests run as root.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importSigner, mintLicense, parseHexKey } from "../../src/core/index.js";
import { toRecord } from "../../src/issuer/issue.js";
import { tempHome } from "../helpers/cli.js";
import { createScratchDatabase } from "../store/databases.js";
import {
  commandUid,
  composeApiEnv,
  dockerfileEnv,
  giveToImageUser,
  imageEnv,
  runImageCli,
} from "./image-env.js";

const TOKEN = /^dtl_admin_[A-Za-z0-9_-]{43}\n$/;
const codeOf = (stderr: string) => /\[([A-Z_0-9]+)\]\n$/.exec(stderr)?.[1];

/** A folder the image's user owns (mode 700), like /srv/datatools-license/secrets. */
function imageUserDir(prefix: string): string {
  const dir = tempHome(prefix);
  giveToImageUser(dir);
  return dir;
}

describe("the production image's environment", () => {
  it("is production with no key variable: what every runbook command below runs in", () => {
    const env = dockerfileEnv();
    expect(env.NODE_ENV).toBe("production");
    expect(Object.keys(env).filter((k) => k.includes("LICENSE_"))).toEqual([]);
    expect(composeApiEnv().NODE_ENV).toBe("production");
  });
});

describe("runbook step 5 in the image (docker run <image> dtlicense …), no key configured", () => {
  const data = imageUserDir("dtl-img-data-");
  const env = imageEnv({ secretsDir: "/run/secrets", dataDir: data });

  it("prints help and the version", async () => {
    for (const argv of [
      ["--help"],
      ["--version"],
      ["admin", "token", "--help"],
      ["keys", "rotate", "--help"],
    ]) {
      const r = await runImageCli(argv, env);
      expect(r.stderr, argv.join(" ")).toBe("");
      expect(r.code, argv.join(" ")).toBe(0);
    }
    expect((await runImageCli(["--version"], env)).stdout).toBe(
      `${JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")).version}\n`,
    );
  });

  it("generates the first admin token on stdout, so `> $S/admin-token` holds it", async () => {
    const r = await runImageCli(["admin", "token", "generate"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(TOKEN);
  });

  it("makes a keypair (docs/ADMIN.md)", async () => {
    const r = await runImageCli(["keypair", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kid: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  it("makes the first signing key in the secrets folder as the image's user, files mode 400", async () => {
    const parent = imageUserDir("dtl-img-keys-");
    const secrets = join(parent, "secrets");
    const r = await runImageCli(["keys", "rotate", "--secrets-dir", secrets], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^DATATOOLS_LICENSE_PUBKEY=[0-9a-f]{64}\n$/);
    for (const name of readdirSync(secrets)) {
      const st = statSync(join(secrets, name));
      expect([name, st.mode & 0o777, st.uid]).toEqual([name, 0o400, commandUid()]);
    }
  });

  it("refuses the development key in every command that signs or trusts keys, writing nothing", async () => {
    const log = join(data, "issued.jsonl");
    writeFileSync(log, "");
    giveToImageUser(log);
    const before = readdirSync(data).sort();
    for (const argv of [
      ["mint", "--name", "A", "--email", "a@example.com", "--no-log"],
      ["serve", "--port", "0"],
      ["status"],
      ["import", log],
      ["keys", "verify-db"],
      ["keys", "reissue", "--from-log", log, "-o", join(data, "buyers.csv")],
    ]) {
      const r = await runImageCli(argv, env);
      expect(codeOf(r.stderr), argv.join(" ")).toBe("DEV_KEY_IN_PRODUCTION");
      expect(r.code, argv.join(" ")).toBe(1);
      expect(r.stdout, argv.join(" ")).toBe("");
    }
    expect(readdirSync(data).sort()).toEqual(before);
  });

  it("lets doctor run and report the development key instead of refusing to start", async () => {
    const r = await runImageCli(["doctor", "--json"], {
      ...env,
      DATABASE_URL: "postgres://datatools@127.0.0.1:9/licenses",
    });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { findings: { check: string; level: string }[] };
    expect(out.findings).toContainEqual(
      expect.objectContaining({ check: "development key", level: "problem" }),
    );
  });
});

describe("runbook steps 6, 9, 10 and 12 in the api service (docker compose exec api dtlicense …)", () => {
  const parent = imageUserDir("dtl-img-compose-");
  const secrets = join(parent, "secrets");
  const data = join(parent, "data");
  const config = join(parent, "config");
  let env: Record<string, string>;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // The runbook's secrets, made by the image's commands (step 5).
    const base = imageEnv({ secretsDir: secrets, dataDir: data });
    const rotated = await runImageCli(["keys", "rotate", "--secrets-dir", secrets], base);
    expect(rotated.code, rotated.stderr).toBe(0);
    const token = await runImageCli(["admin", "token", "generate"], base);
    writeFileSync(join(secrets, "admin-token"), token.stdout, { mode: 0o400 });
    writeFileSync(join(secrets, "db-password"), "unused-with-trust-auth\n", { mode: 0o400 });
    giveToImageUser(join(secrets, "admin-token"), join(secrets, "db-password"));
    // The store-sale placeholders of a vendor not selling through a store (docs/SELLING.md).
    for (const name of ["stripe-webhook-secret", "lemonsqueezy-webhook-secret", "smtp-password"]) {
      writeFileSync(join(secrets, name), "", { mode: 0o400 });
      giveToImageUser(join(secrets, name));
    }
    mkdirSync(config, { mode: 0o755 });
    writeFileSync(join(config, "products.json"), "{}\n", { mode: 0o644 });
    mkdirSync(data, { mode: 0o700 });
    giveToImageUser(data);
    // The compose project's PostgreSQL when the suite has one; else the embedded database.
    let databaseUrl: string | undefined;
    if (process.env.TEST_DATABASE_URL) {
      const scratch = await createScratchDatabase();
      databaseUrl = scratch.url;
      drop = scratch.drop;
    }
    env = imageEnv(
      {
        secretsDir: secrets,
        dataDir: data,
        configDir: config,
        ...(databaseUrl ? { databaseUrl } : {}),
      },
      true,
    );
  }, 60_000);
  afterAll(async () => {
    await drop?.();
  });

  it("migrates, checks the deployment clean with doctor, creates a named token, imports and verifies", async () => {
    const migrated = await runImageCli(["db", "migrate"], env);
    expect(migrated.code, migrated.stderr).toBe(0);

    const doctor = await runImageCli(["doctor", "--secrets-dir", secrets], env);
    expect(doctor.stdout).not.toMatch(/^FAIL/m);
    expect(doctor.code, doctor.stdout).toBe(0);

    const created = await runImageCli(["admin", "token", "create", "--name", "ops laptop"], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(TOKEN);

    const signer = importSigner(
      parseHexKey(readFileSync(join(secrets, "license-signing-key"), "utf8").trim(), "key"),
    );
    const log = join(parent, "issued.jsonl");
    writeFileSync(
      log,
      [1, 2]
        .map((i) =>
          JSON.stringify(
            toRecord(
              mintLicense({ name: `Buyer ${i}`, email: `b${i}@example.com` }, signer, new Date()),
            ),
          ),
        )
        .join("\n") + "\n",
      { mode: 0o600 },
    );
    giveToImageUser(log);
    const imported = await runImageCli(["import", log], env);
    expect(imported.stdout).toBe("imported 2, already present 0, rejected 0\n");
    expect(imported.code, imported.stderr).toBe(0);

    const verified = await runImageCli(["keys", "verify-db"], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^ok: 2 of 2 stored blobs verify/);

    const staged = await runImageCli(["keys", "rotate", "--secrets-dir", secrets, "--stage"], env);
    expect(staged.code, staged.stderr).toBe(0);
    expect(existsSync(join(secrets, "license-signing-key.next"))).toBe(true);
  }, 120_000);
});

describe("deploy/drill/drill.sh", () => {
  const drill = readFileSync(join(import.meta.dirname, "../../deploy/drill/drill.sh"), "utf8");

  it("reads the same image and compose environments from deploy/ as these tests", () => {
    const fns = ["dockerfile_env", "compose_env"]
      .map((f) => new RegExp(`^${f}\\(\\) \\{\\n[\\s\\S]*?\\n\\}$`, "m").exec(drill)?.[0] ?? "")
      .join("\n");
    const read = (fn: string) => {
      const r = spawnSync("bash", ["-c", `set -euo pipefail\n${fns}\n${fn}`], {
        encoding: "utf8",
        env: { PATH: process.env.PATH, ROOT: join(import.meta.dirname, "../..") },
      });
      expect(r.status, r.stderr).toBe(0);
      return Object.fromEntries(
        r.stdout
          .trim()
          .split("\n")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
    };
    expect(read("dockerfile_env")).toEqual(dockerfileEnv());
    expect(read("compose_env")).toEqual(composeApiEnv());
  });

  it("runs dtlicense only in those environments (docker run, compose exec/run, the server)", () => {
    const runs = drill.split("\n").filter((l) => l.includes('node "$MAIN"'));
    expect(runs).toHaveLength(4);
    for (const l of runs) expect(l, l).toContain('"${AS_IMAGE_USER[@]}" node "$MAIN"');
    expect(runs.filter((l) => l.includes("env -i"))).toHaveLength(3);
    // The fourth is restore.sh's blob check, which the drill wraps in env -i itself.
    expect(drill).toMatch(/VERIFY_CMD="env -i DATABASE_URL=/);
    expect(drill).not.toMatch(/node [^\n]*main\.js/);
  });
});
