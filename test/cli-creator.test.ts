import {
  chmodSync,
  existsSync,
  lstatSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  DEV_KID,
  DEV_PRIVATE_KEY_HEX,
  DEV_PUBLIC_KEY_HEX,
  KeyRing,
  generateKeypair,
  importPublicKey,
  importSigner,
  mintLicense,
  parseHexKey,
  verifyBlob,
} from "../src/core/index.js";
import { resolveKeys } from "../src/config/keys.js";
import { parseLog, toRecord } from "../src/issuer/index.js";
import { CLI_PATH, runInProcess, spawnCli, tempHome, type CliResult } from "./helpers/cli.js";
import { PAUSED_LOG_HOLDER, killed, runScript, until, untilStopped } from "./helpers/processes.js";

const NOW = new Date("2026-05-13T22:10:27Z");
const devSigner = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const devRing = new KeyRing([importPublicKey(Buffer.from(DEV_PUBLIC_KEY_HEX, "hex"))]);
const logOf = (home: string) => join(home, ".datatools-creator", "issued.jsonl");
const recordsIn = (home: string) =>
  existsSync(logOf(home)) ? parseLog(readFileSync(logOf(home), "utf8")).records : [];

async function mint(home: string, args: string[], env: Record<string, string> = {}) {
  return runInProcess(["mint", ...args], { home, env, now: NOW });
}

describe("dtlicense mint", () => {
  it("prints a DTLIC2 blob for ADMIN.md's TL;DR command and logs it", async () => {
    const home = tempHome();
    const r = await mint(home, [
      "--name",
      "Michael Dombaugh",
      "--email",
      "michael.dombaugh@gmail.com",
      "--tier",
      "core",
    ]);
    expect(r.code).toBe(0);
    const blob = r.stdout.trim();
    const { payload } = verifyBlob(blob, devRing);
    expect(payload).toMatchObject({
      kid: DEV_KID,
      name: "Michael Dombaugh",
      email: "michael.dombaugh@gmail.com",
      tier: "core",
      issued_at: "2026-05-13T22:10:27Z",
      expires_at: "2027-05-13T22:10:27Z",
    });
    expect(payload.license_key).toMatch(/^DT1-CORE-[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect(r.stderr).toMatch(/development keypair/);
    const { records } = parseLog(readFileSync(logOf(home), "utf8"));
    expect(records).toHaveLength(1);
    expect(records[0]!.blob).toBe(blob);
  });

  it("uses the defaults of ADMIN.md's table: tier core, one year", async () => {
    const home = tempHome();
    const r = await mint(home, ["--name", "A", "--email", "a@example.com", "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({
      tier: "core",
      expires_at: "2027-05-13T22:10:27Z",
    });
  });

  it("honours --tier, --years and a stable --key", async () => {
    const home = tempHome();
    const r = await mint(home, [
      "--name",
      "Acme Corp",
      "--email",
      "ops@acme.com",
      "--tier",
      "pro",
      "--years",
      "5",
      "--key",
      "DT1-PRO-ACME-2026",
    ]);
    const { payload } = verifyBlob(r.stdout, devRing);
    expect(payload).toMatchObject({
      tier: "pro",
      license_key: "DT1-PRO-ACME-2026",
      expires_at: "2031-05-13T22:10:27Z",
    });
  });

  it("signs with DATATOOLS_LICENSE_PRIVKEY and says nothing about the dev key then", async () => {
    const home = tempHome();
    const pair = generateKeypair();
    const r = await mint(home, ["--name", "A", "--email", "a@example.com"], {
      DATATOOLS_LICENSE_PRIVKEY: pair.privateKeyHex,
      DATATOOLS_LICENSE_PUBKEY: pair.publicKeyHex,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/development/);
    const ring = new KeyRing([importPublicKey(parseHexKey(pair.publicKeyHex, "pub"))]);
    expect(verifyBlob(r.stdout, ring).payload.kid).toBe(pair.kid);
  });

  const bad: [string, string[], Record<string, string>, string][] = [
    ["an unknown tier", ["--tier", "gold"], {}, "TIER_UNKNOWN"],
    ["zero years", ["--years", "0"], {}, "YEARS_INVALID"],
    ["fractional years", ["--years", "1.5"], {}, "YEARS_INVALID"],
    ["negative years", ["--years", "-2"], {}, "YEARS_INVALID"],
    ["years that are not a number", ["--years", "ten"], {}, "YEARS_INVALID"],
    ["an empty name", ["--name", "  "], {}, "NAME_INVALID"],
    ["an empty e-mail", ["--email", ""], {}, "EMAIL_INVALID"],
    ["an implausible e-mail", ["--email", "buyer at example"], {}, "EMAIL_INVALID"],
    ["a key with a space", ["--key", "DT1 PRO"], {}, "LICENSE_KEY_INVALID"],
    ["a key with a slash", ["--key", "../../etc"], {}, "LICENSE_KEY_INVALID"],
    ["a short private key", [], { DATATOOLS_LICENSE_PRIVKEY: "abcd" }, "KEY_INVALID"],
    [
      "a private key that is not hex",
      [],
      { DATATOOLS_LICENSE_PRIVKEY: "z".repeat(64) },
      "KEY_INVALID",
    ],
    [
      "a public key that does not match the private key",
      [],
      {
        DATATOOLS_LICENSE_PRIVKEY: generateKeypair().privateKeyHex,
        DATATOOLS_LICENSE_PUBKEY: generateKeypair().publicKeyHex,
      },
      "KEY_MISMATCH",
    ],
    [
      "only a public key (nothing to sign with)",
      [],
      { DATATOOLS_LICENSE_PUBKEY: generateKeypair().publicKeyHex },
      "KEY_MISSING",
    ],
  ];
  for (const [what, args, env, code] of bad) {
    it(`refuses ${what} with ${code}, one line, and mints and logs nothing`, async () => {
      const home = tempHome();
      const r = await mint(home, ["--name", "A", "--email", "a@example.com", ...args], env);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      const errorLines = r.stderr.split("\n").filter((l) => l.includes(`[${code}]`));
      expect(errorLines).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(logOf(home))).toBe(false);
    });
  }

  it("names the variable that holds a malformed key", async () => {
    const r = await mint(tempHome(), ["--name", "A", "--email", "a@example.com"], {
      DATATOOLS_LICENSE_PUBKEY: "1234",
    });
    expect(r.stderr).toMatch(/DATATOOLS_LICENSE_PUBKEY is 4 characters long/);
  });

  it("refuses a missing --email as a usage error (exit 2)", async () => {
    const r = await mint(tempHome(), ["--name", "A"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--email/);
  });

  it("writes --output 600 and logs it, and refuses to overwrite it without --force", async () => {
    const home = tempHome();
    const out = join(home, "buyer.dtlic");
    const args = ["--name", "A", "--email", "a@example.com", "-o", out];
    const first = await mint(home, args);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe("");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const blob = readFileSync(out, "utf8");
    expect(verifyBlob(blob, devRing).payload.name).toBe("A");

    const again = await mint(home, args);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\[FILE_EXISTS\]/);
    expect(readFileSync(out, "utf8")).toBe(blob);
    expect(parseLog(readFileSync(logOf(home), "utf8")).records).toHaveLength(1);

    const forced = await mint(home, [...args, "--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(out, "utf8")).not.toBe(blob);
  });

  it("refuses an --output that is a dangling symbolic link, minting and logging nothing", async () => {
    const home = tempHome();
    const target = join(home, "elsewhere.dtlic");
    const out = join(home, "buyer.dtlic");
    symlinkSync(target, out);
    const r = await mint(home, ["--name", "A", "--email", "a@example.com", "-o", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[FILE_EXISTS\]\n$/);
    expect(existsSync(target)).toBe(false);
    expect(lstatSync(out).isSymbolicLink()).toBe(true);
    expect(existsSync(logOf(home))).toBe(false);
  });

  it("replaces a symbolic link at --output with --force instead of writing through it", async () => {
    const home = tempHome();
    const target = join(home, "victim.txt");
    writeFileSync(target, "keep me\n");
    const out = join(home, "buyer.dtlic");
    symlinkSync(target, out);
    const r = await mint(home, ["--name", "A", "--email", "a@example.com", "-o", out, "--force"]);
    expect(r.code).toBe(0);
    expect(readFileSync(target, "utf8")).toBe("keep me\n");
    expect(lstatSync(out).isSymbolicLink()).toBe(false);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(verifyBlob(readFileSync(out, "utf8"), devRing).payload.name).toBe("A");
  });

  it("says how to redeliver a logged license when --output cannot be written", async () => {
    const home = tempHome();
    const out = join(home, "no-such-folder", "buyer.dtlic");
    const r = await mint(home, ["--name", "A", "--email", "a@example.com", "-o", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /cannot write .*buyer\.dtlic \(ENOENT\); license DT1-CORE-\w+-\w+ was minted and recorded in .*issued\.jsonl: print it with dtlicense issued redeliver --email "a@example\.com" --key DT1-CORE-\w+-\w+ \[FILE_UNWRITABLE\]\n$/,
    );
    expect(r.stderr).not.toMatch(/\.tmp/);
    expect(parseLog(readFileSync(logOf(home), "utf8")).records).toHaveLength(1);
  });

  it("skips the log with --no-log and says so", async () => {
    const home = tempHome();
    const r = await mint(home, ["--name", "QA Bot", "--email", "qa@datatools.app", "--no-log"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/NOT recorded/);
    expect(existsSync(logOf(home))).toBe(false);
  });

  it("refuses a --key the log holds for another buyer", async () => {
    const home = tempHome();
    await mint(home, ["--name", "A", "--email", "a@example.com", "--key", "DT1-X-1"]);
    const r = await mint(home, ["--name", "B", "--email", "b@example.com", "--key", "DT1-X-1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[LICENSE_KEY_TAKEN\]/);
    expect(parseLog(readFileSync(logOf(home), "utf8")).records).toHaveLength(1);
  });

  it("honours DATATOOLS_ISSUANCE_LOG", async () => {
    const home = tempHome();
    const path = join(home, "elsewhere", "ledger.jsonl");
    await mint(home, ["--name", "A", "--email", "a@example.com"], {
      DATATOOLS_ISSUANCE_LOG: path,
    });
    expect(parseLog(readFileSync(path, "utf8")).records).toHaveLength(1);
    expect(existsSync(logOf(home))).toBe(false);
  });
});

describe("dtlicense --help", () => {
  const commands = [
    ["keypair"],
    ["mint"],
    ["issued"],
    ["issued", "list"],
    ["issued", "count"],
    ["issued", "expiring"],
    ["issued", "redeliver"],
    ["activate"],
    ["status"],
    ["renew"],
    ["deactivate"],
  ];
  for (const command of commands) {
    it(`prints the usage of '${command.join(" ")}' on stdout and exits 0, writing nothing`, async () => {
      const home = tempHome();
      const r = await runInProcess([...command, "--help"], { home });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: dtlicense ${command.join(" ")} `));
      expect(r.stderr).toBe("");
      expect(readdirSync(home)).toEqual([]);
    });
  }

  it("treats a group without its subcommand as a usage mistake (exit 2, one line naming the subcommands)", async () => {
    const r = await runInProcess(["issued"], { home: tempHome() });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "dtlicense: 'dtlicense issued' needs a subcommand (list, count, expiring, redeliver); see dtlicense issued --help [USAGE]\n",
    );
  });
});

describe("dtlicense keypair", () => {
  /** KEY=value lines read literally, as docker --env-file and systemd EnvironmentFile= read them. */
  const literalEnvFile = (text: string) =>
    Object.fromEntries(
      text
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );

  it("prints the two KEY=hex lines with their comments on lines of their own, and the pair matches", async () => {
    const r = await runInProcess(["keypair"], { home: tempHome() });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.filter((l) => !l.startsWith("#"))).toEqual([
      expect.stringMatching(/^DATATOOLS_LICENSE_PRIVKEY=[0-9a-f]{64}$/),
      expect.stringMatching(/^DATATOOLS_LICENSE_PUBKEY=[0-9a-f]{64}$/),
    ]);
    expect(r.stdout).toMatch(/^# KEEP SECRET\b.*\nDATATOOLS_LICENSE_PRIVKEY=/m);
    expect(r.stdout).toMatch(/^# BAKE INTO BUILD\b.*\nDATATOOLS_LICENSE_PUBKEY=/m);
    const env = literalEnvFile(r.stdout);
    const minted = await mint(tempHome(), ["--name", "A", "--email", "a@example.com"], env);
    expect(minted.code, minted.stderr).toBe(0);
  });

  it("writes a file that node --env-file, docker --env-file and systemd load as two 64-hex keys", async () => {
    const home = tempHome();
    const out = join(home, "keypair.env");
    expect((await runInProcess(["keypair", "--output", out], { home })).code).toBe(0);
    const text = readFileSync(out, "utf8");
    const literal = literalEnvFile(text);
    expect(Object.keys(literal)).toEqual(["DATATOOLS_LICENSE_PRIVKEY", "DATATOOLS_LICENSE_PUBKEY"]);
    for (const v of Object.values(literal)) expect(v).toMatch(/^[0-9a-f]{64}$/);
    const loaded = spawnSync(
      process.execPath,
      [
        `--env-file=${out}`,
        "-e",
        "const e = process.env; console.log(JSON.stringify([e.DATATOOLS_LICENSE_PRIVKEY, e.DATATOOLS_LICENSE_PUBKEY]))",
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH } },
    );
    expect(loaded.status, loaded.stderr).toBe(0);
    const [priv, pub] = JSON.parse(loaded.stdout) as [string, string];
    expect([priv, pub]).toEqual([
      literal.DATATOOLS_LICENSE_PRIVKEY,
      literal.DATATOOLS_LICENSE_PUBKEY,
    ]);
    // And parses back: the keys resolve, the public key is the private key's half.
    const keys = resolveKeys({ DATATOOLS_LICENSE_PRIVKEY: priv, DATATOOLS_LICENSE_PUBKEY: pub });
    expect(keys.signer?.publicKey.hex).toBe(pub);
    expect(keys.usingDevKey).toBe(false);
  });

  it("writes --output with mode 600 and never overwrites it without --force", async () => {
    const home = tempHome();
    const out = join(home, "keypair.env");
    expect((await runInProcess(["keypair", "--output", out], { home })).code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const first = readFileSync(out, "utf8");
    const again = await runInProcess(["keypair", "--output", out], { home });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\[FILE_EXISTS\]/);
    expect(readFileSync(out, "utf8")).toBe(first);
    expect((await runInProcess(["keypair", "-o", out, "--force"], { home })).code).toBe(0);
    expect(readFileSync(out, "utf8")).not.toBe(first);
  });

  it("refuses an --output that is a symbolic link, even a dangling one, writing nothing", async () => {
    const home = tempHome();
    const target = join(home, "shared", "keys.env");
    const out = join(home, "keypair.env");
    symlinkSync(target, out);
    const r = await runInProcess(["keypair", "--output", out], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[FILE_EXISTS\]\n$/);
    expect(r.stdout).toBe("");
    expect(existsSync(target)).toBe(false);
    expect(lstatSync(out).isSymbolicLink()).toBe(true);
  });
});

describe("dtlicense issued", () => {
  async function seeded() {
    const home = tempHome();
    const at = (iso: string) => ({ home, now: new Date(iso) });
    await runInProcess(
      ["mint", "--name", "Ada", "--email", "ada@example.com", "--tier", "lite"],
      at("2025-12-01T00:00:00Z"),
    );
    await runInProcess(
      ["mint", "--name", "Bob", "--email", "bob@example.com", "--tier", "pro", "--years", "2"],
      at("2025-06-01T00:00:00Z"),
    );
    await runInProcess(
      ["mint", "--name", "Cy", "--email", "cy@example.com", "--tier", "core"],
      at("2025-12-20T00:00:00Z"),
    );
    // Cy renews: the older license no longer counts as expiring.
    await runInProcess(
      ["mint", "--name", "Cy", "--email", "CY@example.com", "--tier", "core"],
      at("2026-11-25T00:00:00Z"),
    );
    return home;
  }
  const NOW_Q = new Date("2026-11-28T00:00:00Z");

  it("lists every license as a table, and as JSON with blobs for scripts", async () => {
    const home = await seeded();
    const table = await runInProcess(["issued", "list"], { home, now: NOW_Q });
    expect(table.stdout.split("\n")[0]).toMatch(/^LICENSE KEY\s+TIER\s+NAME\s+EMAIL/);
    expect(table.stdout.trim().split("\n")).toHaveLength(5);
    const json = await runInProcess(["issued", "list", "--json"], { home });
    const rows = JSON.parse(json.stdout);
    expect(rows).toHaveLength(4);
    expect(rows[0].blob).toMatch(/^DTLIC2:/);
  });

  it("filters by e-mail (any case), tier and key", async () => {
    const home = await seeded();
    const byEmail = JSON.parse(
      (await runInProcess(["issued", "list", "--email", "Cy@Example.com", "--json"], { home }))
        .stdout,
    );
    expect(byEmail).toHaveLength(2);
    const byTier = JSON.parse(
      (await runInProcess(["issued", "list", "--tier", "pro", "--json"], { home })).stdout,
    );
    expect(byTier.map((r: { name: string }) => r.name)).toEqual(["Bob"]);
    const key = byTier[0].license_key;
    const byKey = JSON.parse(
      (await runInProcess(["issued", "list", "--key", key, "--json"], { home })).stdout,
    );
    expect(byKey).toHaveLength(1);
    const badTier = await runInProcess(["issued", "list", "--tier", "gold"], { home });
    expect(badTier.code).toBe(1);
    expect(badTier.stderr).toMatch(/\[TIER_UNKNOWN\]/);
  });

  it("counts by tier", async () => {
    const home = await seeded();
    const r = await runInProcess(["issued", "count", "--json"], { home });
    expect(JSON.parse(r.stdout)).toEqual({ lite: 1, core: 2, pro: 1, total: 4 });
    const text = await runInProcess(["issued", "count"], { home });
    expect(text.stdout).toBe("lite   1\ncore   2\npro    1\ntotal  4\n");
  });

  it("lists licenses expiring within N days, leaving out renewed and expired ones", async () => {
    const home = await seeded();
    const r = await runInProcess(["issued", "expiring", "--days", "30", "--json"], {
      home,
      now: NOW_Q,
    });
    expect(JSON.parse(r.stdout).map((x: { name: string }) => x.name)).toEqual(["Ada"]);
    const wide = await runInProcess(["issued", "expiring", "--days", "1000", "--json"], {
      home,
      now: NOW_Q,
    });
    expect(JSON.parse(wide.stdout).map((x: { name: string }) => x.name)).toEqual([
      "Ada",
      "Bob",
      "Cy",
    ]);
    const bad = await runInProcess(["issued", "expiring", "--days", "soon"], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/\[USAGE\]/);
  });

  it("says so when nothing expires or nothing matches, and prints [] for scripts", async () => {
    const home = await seeded();
    const none = await runInProcess(["issued", "expiring", "--days", "1"], { home, now: NOW_Q });
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("No license expires within the next 1 day.\n");
    const json = await runInProcess(["issued", "expiring", "--days", "1", "--json"], {
      home,
      now: NOW_Q,
    });
    expect(JSON.parse(json.stdout)).toEqual([]);
    const nobody = await runInProcess(["issued", "list", "--email", "nobody@example.com"], {
      home,
    });
    expect(nobody.stdout).toBe("No issued license matches.\n");
  });

  it("re-delivers the stored blob byte for byte, the latest when a buyer has several", async () => {
    const home = await seeded();
    const rows = JSON.parse((await runInProcess(["issued", "list", "--json"], { home })).stdout);
    const r = await runInProcess(["issued", "redeliver", "--email", "ada@EXAMPLE.com"], { home });
    expect(r.stdout).toBe(`${rows[0].blob}\n`);
    const cy = await runInProcess(["issued", "redeliver", "--email", "cy@example.com"], { home });
    expect(cy.stdout).toBe(`${rows[3].blob}\n`);
    expect(cy.stderr).toMatch(/has 2 licenses/);
    const picked = await runInProcess(
      ["issued", "redeliver", "--email", "cy@example.com", "--key", rows[2].license_key],
      { home },
    );
    expect(picked.stdout).toBe(`${rows[2].blob}\n`);
    const none = await runInProcess(["issued", "redeliver", "--email", "zed@example.com"], {
      home,
    });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/\[NOT_FOUND\]/);
  });

  it("warns about a torn last line with its number and still lists the rest", async () => {
    const home = await seeded();
    writeFileSync(logOf(home), readFileSync(logOf(home), "utf8") + '{"license_key":"DT1-', {
      flag: "w",
    });
    const r = await runInProcess(["issued", "list", "--json"], { home });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(4);
    expect(r.stderr).toMatch(/line 5: torn last line/);
  });

  it("says when there is no log yet", async () => {
    const r = await runInProcess(["issued", "list", "--json"], { home: tempHome() });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expect(r.stderr).toMatch(/no issuance log/);
  });
});

describe("the issuance log under real processes", () => {
  it("keeps exactly 20 well-formed lines when 20 mints run at once", async () => {
    const home = tempHome();
    const env = { HOME: home };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        spawnCli(["mint", "--name", `Buyer ${i}`, "--email", `b${i}@example.com`], env),
      ),
    );
    expect(results.map((r) => r.code)).toEqual(Array(20).fill(0));
    const text = readFileSync(logOf(home), "utf8");
    const { records, problems } = parseLog(text);
    expect(problems).toEqual([]);
    expect(text.split("\n").filter((l) => l !== "")).toHaveLength(20);
    expect(new Set(records.map((r) => r.blob))).toEqual(
      new Set(results.map((r) => r.stdout.trim())),
    );
  }, 60_000);

  it("never leaves an unparseable line or an unlogged shown blob when mints are killed", async () => {
    const home = tempHome();
    const spawnMint = (name: string, email: string) => {
      const child = spawn(process.execPath, [CLI_PATH, "mint", "--name", name, "--email", email], {
        env: { PATH: process.env.PATH, HOME: home },
        stdio: ["ignore", "pipe", "ignore"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      const closed = new Promise<string>((done) => child.on("close", () => done(out)));
      return { child, closed };
    };
    // How long three mints at once take on this machine, so that the kills below land
    // both before and after a blob is shown.
    const started = Date.now();
    await Promise.all([0, 1, 2].map((i) => spawnMint(`Warm ${i}`, `w${i}@example.com`).closed));
    const span = Date.now() - started;

    const shown: string[] = [];
    let killedCount = 0;
    for (let round = 0; round < 12; round++) {
      await Promise.all(
        Array.from({ length: 3 }, async (_, i) => {
          const { child, closed } = spawnMint(`K ${round}.${i}`, `k${round}${i}@example.com`);
          // Early, around the time a mint takes, and late: each round covers every phase
          // even when the machine's load changes after the measurement.
          const from = [0.2, 0.8, 2][i]!;
          const width = [0.6, 0.8, 1][i]!;
          const timer = setTimeout(
            () => child.kill("SIGKILL"),
            span * (from + Math.random() * width),
          );
          const out = await closed;
          clearTimeout(timer);
          if (child.signalCode === "SIGKILL") killedCount++;
          for (const line of out.split("\n")) if (line.startsWith("DTLIC2:")) shown.push(line);
        }),
      );
    }
    // Both sides were exercised: some mints were cut off, some showed their blob.
    expect(killedCount).toBeGreaterThan(0);
    expect(shown.length).toBeGreaterThan(0);
    const text = readFileSync(logOf(home), "utf8");
    const { records, problems } = parseLog(text);
    expect(problems).toEqual([]);
    const logged = new Set(records.map((r) => r.blob));
    for (const blob of shown) expect(logged.has(blob)).toBe(true);
  }, 90_000);

  it("keeps one buyer per --key while the mint holding the log's lock is paused (3 tries)", async () => {
    for (let round = 0; round < 3; round++) {
      const home = tempHome();
      const key = `DT1-PRO-SAME-${round}`;
      const record = toRecord(
        mintLicense(
          { name: "Paused Buyer", email: "paused@example.com", tier: "pro", licenseKey: key },
          devSigner,
          NOW,
        ),
      );
      const holder = runScript(PAUSED_LOG_HOLDER, [logOf(home), JSON.stringify(record)]);
      try {
        await untilStopped(holder);
        let other: CliResult | undefined;
        const otherRun = spawnCli(
          ["mint", "--name", "Other Buyer", "--email", "other@example.com", "--key", key],
          { HOME: home },
        ).then((r) => (other = r));
        // The lock used to be a 2-second lease: give the other mint well past that to take it.
        const window = Date.now() + 3_500;
        await until(() => other !== undefined || Date.now() > window, "the window to pass");
        expect(other).toBeUndefined();
        expect(recordsIn(home)).toEqual([]);

        process.kill(holder.pid, "SIGCONT");
        const [held] = await Promise.all([holder.exited, otherRun]);
        expect(held.code).toBe(0);
        expect(other!.code).toBe(1);
        expect(other!.stderr).toMatch(/\[LICENSE_KEY_TAKEN\]\n$/);
        expect(
          recordsIn(home)
            .filter((r) => r.license_key === key)
            .map((r) => r.email),
        ).toEqual(["paused@example.com"]);
      } finally {
        if (holder.child.exitCode === null) await killed(holder);
      }
    }
  }, 60_000);
});

describe("the issuance log's permissions", () => {
  it("warns when the log is readable by others, and still mints", async () => {
    const home = tempHome();
    await mint(home, ["--name", "A", "--email", "a@example.com"]);
    chmodSync(logOf(home), 0o644);
    const r = await mint(home, ["--name", "B", "--email", "b@example.com"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/has mode 644: other users can read the buyer list; run chmod 600/);
    const quiet = tempHome();
    const ok = await mint(quiet, ["--name", "C", "--email", "c@example.com"]);
    expect(ok.stderr).not.toMatch(/other users can read/);
  });
});

describe("dtlicense --version", () => {
  it("prints the version package.json declares", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8"));
    const r = await runInProcess(["--version"], { home: tempHome() });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});
