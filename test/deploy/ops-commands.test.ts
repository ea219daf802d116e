// dtlicense keys rotate | reissue | verify-db and dtlicense doctor, run in-process on temp folders and an embedded database.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeBlob, verifyBlob } from "../../src/core/format.js";
import {
  DEV_PRIVATE_KEY_HEX,
  generateKeypair,
  importSigner,
  KeyRing,
} from "../../src/core/keys.js";
import { mintLicense } from "../../src/core/mint.js";
import { writeFileAtomic } from "../../src/config/fs-safe.js";
import { loadServerConfig } from "../../src/config/server.js";
import { openPglite } from "../../src/store/pglite.js";
import { migrate } from "../../src/store/migrations.js";
import { getLicense, insertLicense, setStatus } from "../../src/store/licenses.js";
import { runInProcess, tempHome } from "../helpers/cli.js";

const NOW = new Date("2026-06-01T12:00:00Z");
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

interface RotateJson {
  kid: string;
  previous_kid: string | null;
  ring: { kid: string; public_key: string }[];
  embed: string;
}

/** Runs `keys rotate --json` on a secrets folder and returns its result. */
async function rotateJson(dir: string, home: string, ...more: string[]): Promise<RotateJson> {
  const r = await runInProcess(["keys", "rotate", "--secrets-dir", dir, "--json", ...more], {
    home,
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as RotateJson;
}

describe("dtlicense keys rotate", () => {
  it("creates the first signing key and ring, mode 400, and prints the key to embed", async () => {
    const home = tempHome();
    const dir = join(home, "secrets");
    const r = await runInProcess(["keys", "rotate", "--secrets-dir", dir], { home, now: NOW });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DATATOOLS_LICENSE_PUBKEY=[0-9a-f]{64}\n$/);
    expect(mode(dir)).toBe("700");
    expect(mode(join(dir, "license-signing-key"))).toBe("400");
    expect(mode(join(dir, "license-public-keys"))).toBe("400");
  });

  it("switches signing to a new key, keeps the old public key in the ring (newest first) and retires the old private key", async () => {
    const home = tempHome();
    const dir = join(home, "secrets");
    const a = await rotateJson(dir, home);
    const b = await rotateJson(dir, home);
    expect(b.previous_kid).toBe(a.kid);
    expect(b.ring.map((k) => k.kid)).toEqual([b.kid, a.kid]);
    expect(b.embed).toBe(`${b.ring[0]!.public_key},${a.ring[0]!.public_key}`);
    expect(mode(join(dir, `license-signing-key.retired-${a.kid}`))).toBe("400");
    // The server reads the result as its configuration: signer = new key, ring = both.
    const config = loadServerConfig(
      {
        NODE_ENV: "production",
        DATATOOLS_LICENSE_PRIVKEY_FILE: join(dir, "license-signing-key"),
        DATATOOLS_LICENSE_PUBKEY_FILE: join(dir, "license-public-keys"),
      },
      {},
      home,
    );
    expect(config.keys.signer?.kid).toBe(b.kid);
    expect(config.keys.ring.keys().map((k) => k.kid)).toEqual([b.kid, a.kid]);
  });

  it("stages a next key without switching, then switches to exactly that key", async () => {
    const home = tempHome();
    const dir = join(home, "secrets");
    const a = await rotateJson(dir, home);
    const staged = await rotateJson(dir, home, "--stage");
    expect(staged.ring.map((k) => k.kid)).toEqual([a.kid, staged.kid]);
    const signing = readFileSync(join(dir, "license-signing-key"), "utf8");
    expect(importSigner(Buffer.from(signing.trim(), "hex")).kid).toBe(a.kid);
    const again = await runInProcess(["keys", "rotate", "--secrets-dir", dir, "--stage"], { home });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("[FILE_EXISTS]");
    const b = await rotateJson(dir, home);
    expect(b.kid).toBe(staged.kid);
    expect(b.ring.map((k) => k.kid)).toEqual([staged.kid, a.kid]);
    expect(existsSync(join(dir, "license-signing-key.next"))).toBe(false);
  });

  it("refuses a signing key file others can read, and changes nothing", async () => {
    const home = tempHome();
    const dir = join(home, "secrets");
    await runInProcess(["keys", "rotate", "--secrets-dir", dir], { home });
    const key = join(dir, "license-signing-key");
    const ring = readFileSync(join(dir, "license-public-keys"), "utf8");
    chmodSync(key, 0o644);
    const before = readFileSync(key, "utf8");
    const r = await runInProcess(["keys", "rotate", "--secrets-dir", dir], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[FILE_INSECURE]");
    expect(readFileSync(key, "utf8")).toBe(before);
    expect(readFileSync(join(dir, "license-public-keys"), "utf8")).toBe(ring);
  });
});

/** The signer kid and ring the server would load from a secrets folder. */
function serverKeys(dir: string, home: string) {
  const { keys } = loadServerConfig(
    {
      NODE_ENV: "production",
      DATATOOLS_LICENSE_PRIVKEY_FILE: join(dir, "license-signing-key"),
      DATATOOLS_LICENSE_PUBKEY_FILE: join(dir, "license-public-keys"),
    },
    {},
    home,
  );
  return { kid: keys.signer?.kid, ring: keys.ring.keys().map((k) => k.kid) };
}

/** The files of a folder and their contents (sub-folders left out). */
const snapshot = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [e.name, readFileSync(join(dir, e.name), "utf8")]),
  );

describe("dtlicense keys rotate after an interruption", () => {
  it("resumes with the key an interrupted rotation had written, and the server loads its keys before and after", async () => {
    const home = tempHome();
    const dir = join(home, "secrets");
    const a = await rotateJson(dir, home);
    // Killed right after step 1: the next key is on disk, nothing trusts it yet.
    const b = generateKeypair();
    writeFileSync(join(dir, "license-signing-key.next"), b.privateKeyHex + "\n", { mode: 0o400 });
    expect(serverKeys(dir, home)).toEqual({ kid: a.kid, ring: [a.kid] });
    const r = await rotateJson(dir, home);
    expect(r.kid).toBe(b.kid);
    expect(serverKeys(dir, home)).toEqual({ kid: b.kid, ring: [b.kid, a.kid] });
    expect(existsSync(join(dir, "license-signing-key.next"))).toBe(false);
  });

  it("finishes a rotation killed after the switch without making another key or retiring the new one", async () => {
    const home = tempHome();
    const dir = join(home, "secrets");
    const a = await rotateJson(dir, home);
    const staged = await rotateJson(dir, home, "--stage");
    // Killed after step 4: signing switched, .next still there.
    writeFileAtomic(
      join(dir, "license-signing-key"),
      readFileSync(join(dir, "license-signing-key.next")),
      { mode: 0o400 },
    );
    expect(serverKeys(dir, home).kid).toBe(staged.kid);
    const done = await rotateJson(dir, home);
    expect([done.kid, done.previous_kid]).toEqual([staged.kid, a.kid]);
    expect(serverKeys(dir, home)).toEqual({ kid: staged.kid, ring: [staged.kid, a.kid] });
    expect(existsSync(join(dir, "license-signing-key.next"))).toBe(false);
    expect(existsSync(join(dir, `license-signing-key.retired-${staged.kid}`))).toBe(false);
  });

  it("refuses to rotate while another rotation holds the lock, and changes nothing", async () => {
    const home = tempHome();
    const dir = join(home, "secrets");
    await runInProcess(["keys", "rotate", "--secrets-dir", dir], { home });
    mkdirSync(join(dir, ".rotate.lock"));
    const before = snapshot(dir);
    const r = await runInProcess(["keys", "rotate", "--secrets-dir", dir], { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[SECRETS_LOCKED]");
    expect(r.stdout).toBe("");
    expect(snapshot(dir)).toEqual(before);
  });
});

describe("dtlicense keys reissue --from-log", () => {
  it("re-signs every unexpired license under the new key, keeping key, buyer, tier and expiry, and appends to the log", async () => {
    const home = tempHome();
    const oldKey = importSigner(Buffer.from(generateKeypair().privateKeyHex, "hex"));
    const next = generateKeypair();
    const log = join(home, "issued.jsonl");
    const lines = [
      mintLicense({ name: "Ada", email: "ada@example.com", tier: "pro", years: 2 }, oldKey, NOW),
      mintLicense({ name: "Bob", email: "bob@example.com", tier: "lite", years: 1 }, oldKey, NOW),
      // Expired by NOW: not re-issued.
      mintLicense(
        { name: "Old", email: "old@example.com", tier: "core", years: 1 },
        oldKey,
        new Date("2024-01-01T00:00:00Z"),
      ),
    ].map(({ payload, blob }) => {
      const { license_key, name, email, tier, issued_at, expires_at } = payload;
      return JSON.stringify({ license_key, name, email, tier, issued_at, expires_at, blob });
    });
    writeFileSync(log, lines.join("\n") + "\n", { mode: 0o600 });
    const env = { DATATOOLS_LICENSE_PRIVKEY: next.privateKeyHex };
    const out = join(home, "buyers.csv");
    const r = await runInProcess(["keys", "reissue", "--from-log", log, "-o", out], {
      home,
      env,
      now: NOW,
    });
    expect(r.stderr).toContain("re-issued 2 active license(s)");
    expect(r.code).toBe(0);
    const csv = readFileSync(out, "utf8").trim().split("\r\n");
    expect(csv[0]).toBe("email,name,tier,expires_at,old_license_key,license_key,kid,blob");
    expect(csv).toHaveLength(3);
    const ring = new KeyRing([importSigner(Buffer.from(next.privateKeyHex, "hex")).publicKey]);
    const logged = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(logged).toHaveLength(5);
    for (const [i, rec] of logged.slice(3).entries()) {
      const orig = JSON.parse(lines[i]!);
      const { payload } = verifyBlob(rec.blob, ring);
      expect(payload.kid).toBe(next.kid);
      expect([payload.license_key, payload.email, payload.tier, payload.expires_at]).toEqual([
        orig.license_key,
        orig.email,
        orig.tier,
        orig.expires_at,
      ]);
    }
    expect(mode(out)).toBe("600");
    // Everything is on the new key now: a second run re-issues nothing.
    const again = await runInProcess(
      ["keys", "reissue", "--from-log", log, "-o", join(home, "again.json")],
      { home, env, now: NOW },
    );
    expect(again.stderr).toContain("re-issued 0 active license(s)");
    expect(JSON.parse(readFileSync(join(home, "again.json"), "utf8"))).toEqual([]);
  });

  it("refuses to overwrite the output file and writes nothing to the log", async () => {
    const home = tempHome();
    const log = join(home, "issued.jsonl");
    writeFileSync(log, "", { mode: 0o600 });
    const out = join(home, "buyers.csv");
    writeFileSync(out, "keep");
    const r = await runInProcess(["keys", "reissue", "--from-log", log, "-o", out], {
      home,
      env: { DATATOOLS_LICENSE_PRIVKEY: generateKeypair().privateKeyHex },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[FILE_EXISTS]");
    expect(readFileSync(out, "utf8")).toBe("keep");
    expect(readFileSync(log, "utf8")).toBe("");
  });

  it("refuses to re-issue with the development key", async () => {
    const home = tempHome();
    const r = await runInProcess(
      ["keys", "reissue", "--from-log", join(home, "x.jsonl"), "-o", join(home, "o.csv")],
      { home },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[DEV_KEY_IN_PRODUCTION]");
    expect(existsSync(join(home, "o.csv"))).toBe(false);
  });
});

describe("keys reissue --from-db, keys verify-db and doctor on an embedded database", () => {
  const home = tempHome("dtl-ops-");
  const dataDir = join(home, "data");
  const oldPair = generateKeypair();
  const newPair = generateKeypair();
  const oldSigner = importSigner(Buffer.from(oldPair.privateKeyHex, "hex"));
  const keys: string[] = [];
  const envWith = (priv: string) => ({
    DATATOOLS_LICENSE_PRIVKEY: priv,
    DATATOOLS_LICENSE_PUBKEY: [newPair.publicKeyHex, oldPair.publicKeyHex].join(","),
  });

  beforeAll(async () => {
    const db = await openPglite(join(dataDir, "pgdata"));
    try {
      await migrate(db);
      const who = { actor: "test" };
      for (const [i, tier] of (["lite", "core", "pro", "core"] as const).entries()) {
        const m = mintLicense(
          { name: `Buyer ${i}`, email: `b${i}@example.com`, tier, years: 1 + i },
          oldSigner,
          NOW,
        );
        await insertLicense(db, { ...m.payload, blob: m.blob, source: "api" }, who, NOW);
        keys.push(m.payload.license_key);
      }
      const revoked = (await getLicense(db, keys[3]!))!;
      await setStatus(db, revoked, "revoked", "revoke", "refund", who, NOW);
    } finally {
      await db.close();
    }
  });

  it("verify-db passes when every stored blob verifies under the ring", async () => {
    const r = await runInProcess(["keys", "verify-db", "--data-dir", dataDir, "--json"], {
      home,
      env: envWith(oldPair.privateKeyHex),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, total: 4, problems: [] });
  });

  it("doctor reports no problems for a sound configuration", async () => {
    const secrets = join(home, "secrets");
    await runInProcess(["keys", "rotate", "--secrets-dir", secrets], { home });
    const r = await runInProcess(
      ["doctor", "--data-dir", dataDir, "--secrets-dir", secrets, "--json"],
      { home, env: { ...envWith(oldPair.privateKeyHex), NODE_ENV: "production" } },
    );
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      findings: { check: string; level: string }[];
    };
    expect(out.findings.filter((f) => f.level === "problem")).toEqual([]);
    expect(out.ok).toBe(true);
    expect(r.code).toBe(0);
  });

  it("doctor names each problem with a fix: loose secret file, dev key, unpublished signing key", async () => {
    const loose = join(home, "loose-key");
    writeFileSync(loose, `${DEV_PRIVATE_KEY_HEX}\n`, { mode: 0o644 });
    chmodSync(loose, 0o644);
    const r = await runInProcess(
      ["doctor", "--data-dir", dataDir, "--published-keys", oldPair.publicKeyHex],
      { home, env: { DATATOOLS_LICENSE_PRIVKEY_FILE: loose } },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}secret files: DATATOOLS_LICENSE_PRIVKEY_FILE: .* mode 644/m);
    expect(r.stdout).toContain(`fix: chmod 400 ${loose}`);
    expect(r.stdout).toMatch(/^FAIL {2}configuration: the server would refuse to start/m);
    chmodSync(loose, 0o400);
    const dev = await runInProcess(
      ["doctor", "--data-dir", dataDir, "--published-keys", oldPair.publicKeyHex],
      { home, env: { DATATOOLS_LICENSE_PRIVKEY_FILE: loose } },
    );
    expect(dev.stdout).toMatch(/^warn {2}development key: /m);
    expect(dev.stdout).toMatch(/^FAIL {2}published keys: the shipped app does not trust/m);
    expect(dev.stdout).toMatch(/^FAIL {2}stored licenses: .* keys the ring does not trust/m);
    expect(dev.code).toBe(1);
  });

  it("doctor reports a database whose migrations are not applied", async () => {
    const empty = join(home, "empty");
    const db = await openPglite(join(empty, "pgdata"));
    await db.close();
    const r = await runInProcess(["doctor", "--data-dir", empty], {
      home,
      env: envWith(oldPair.privateKeyHex),
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}migrations: schema version 0/m);
    expect(r.stdout).toContain("fix: dtlicense db migrate");
  });

  it("reissue refuses an output folder it cannot write before re-issuing anything", async () => {
    const out = join(home, "no-such-folder", "buyers.csv");
    const r = await runInProcess(
      ["keys", "reissue", "--from-db", "--data-dir", dataDir, "-o", out],
      { home, env: envWith(newPair.privateKeyHex), now: NOW },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[FILE_UNWRITABLE]");
    expect(r.stderr).toContain("nothing was re-issued");
    const db = await openPglite(join(dataDir, "pgdata"));
    try {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM licenses WHERE superseded_by IS NOT NULL OR kid = $1",
        [newPair.kid],
      );
      expect(rows[0]!.n).toBe(0);
    } finally {
      await db.close();
    }
  });

  it("doctor warns about a retired private key left in the secrets folder", async () => {
    const secrets = join(home, "secrets-retired");
    await rotateJson(secrets, home);
    const { previous_kid } = await rotateJson(secrets, home);
    const r = await runInProcess(
      ["doctor", "--data-dir", dataDir, "--secrets-dir", secrets, "--json"],
      { home, env: envWith(oldPair.privateKeyHex) },
    );
    const out = JSON.parse(r.stdout) as { findings: { level: string; message: string }[] };
    expect(out.findings).toContainEqual(
      expect.objectContaining({
        level: "warning",
        message: expect.stringContaining(
          `license-signing-key.retired-${previous_kid}: a retired private key`,
        ),
      }),
    );
  });

  it("reissue re-signs exactly the active licenses under the new key, recording each as superseding the old", async () => {
    const out = join(home, "reissued.json");
    const r = await runInProcess(
      ["keys", "reissue", "--from-db", "--data-dir", dataDir, "-o", out],
      { home, env: envWith(newPair.privateKeyHex), now: NOW },
    );
    expect(r.stderr).toContain("re-issued 3 active license(s)");
    expect(r.code).toBe(0);
    const list = JSON.parse(readFileSync(out, "utf8")) as Record<string, string>[];
    expect(list.map((l) => l.old_license_key).sort()).toEqual(keys.slice(0, 3).sort());
    const ring = new KeyRing([importSigner(Buffer.from(newPair.privateKeyHex, "hex")).publicKey]);
    const db = await openPglite(join(dataDir, "pgdata"));
    try {
      for (const l of list) {
        const { payload } = verifyBlob(l.blob!, ring);
        const old = (await getLicense(db, l.old_license_key!))!;
        const created = (await getLicense(db, l.license_key!))!;
        expect(payload.kid).toBe(newPair.kid);
        expect(old.superseded_by).toBe(l.license_key);
        expect(created.supersedes).toBe(l.old_license_key);
        expect([created.email, created.name, created.tier, created.expires_at]).toEqual([
          old.email,
          old.name,
          old.tier,
          old.expires_at,
        ]);
      }
      expect((await getLicense(db, keys[3]!))!.superseded_by).toBeNull();
    } finally {
      await db.close();
    }
    const again = await runInProcess(
      ["keys", "reissue", "--data-dir", dataDir, "-o", out, "--force"],
      { home, env: envWith(newPair.privateKeyHex), now: NOW },
    );
    expect(again.stderr).toContain("re-issued 0 active license(s) under key");
  });

  it("verify-db fails, naming the license, when a stored blob was altered", async () => {
    const db = await openPglite(join(dataDir, "pgdata"));
    try {
      const forged = encodeBlob(
        {
          ...verifyBlob((await getLicense(db, keys[0]!))!.blob, new KeyRing([oldSigner.publicKey]))
            .payload,
          tier: "pro",
        },
        oldSigner,
      );
      // Signed, but no longer what the row says.
      await db.query("UPDATE licenses SET blob = $1 WHERE license_key = $2", [forged, keys[0]]);
    } finally {
      await db.close();
    }
    const r = await runInProcess(["keys", "verify-db", "--data-dir", dataDir], {
      home,
      env: envWith(newPair.privateKeyHex),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${keys[0]}: the row's tier differ from the blob's signed payload [RECORD_MISMATCH]`,
    );
    expect(r.stdout).toMatch(/^FAILED: \d+ of \d+ stored blobs verify/);
  });
});

describe("dtlicense doctor without a database", () => {
  it("reports an unreachable PostgreSQL as a finding with a fix, never printing the URL's password", async () => {
    const home = tempHome();
    const r = await runInProcess(["doctor", "--json"], {
      home,
      env: { DATABASE_URL: "postgres://datatools:s3cr3t-pw@127.0.0.1:9/licenses" },
    });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain("s3cr3t-pw");
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      findings: { check: string; level: string; message: string; fix?: string }[];
    };
    expect(out.ok).toBe(false);
    const db = out.findings.filter((f) => f.check === "database");
    expect(db).toContainEqual(
      expect.objectContaining({
        level: "problem",
        message: expect.stringContaining("[DATABASE_UNAVAILABLE]"),
        fix: expect.stringContaining("docker compose -p datatools-license ps"),
      }),
    );
    expect(db).toContainEqual(
      expect.objectContaining({
        level: "warning",
        message: "DATABASE_URL holds the database password in the environment",
      }),
    );
  });
});

describe("dtlicense doctor on the store sales configuration", () => {
  type Report = { findings: { check: string; level: string; message: string; fix?: string }[] };
  // An unreachable PostgreSQL keeps the database checks quick; the sales findings come
  // from the configuration alone.
  const doctor = async (env: Record<string, string>) => {
    const home = tempHome();
    const r = await runInProcess(["doctor", "--json"], {
      home,
      env: { DATABASE_URL: "postgres://datatools@127.0.0.1:9/licenses", ...env },
    });
    const out = JSON.parse(r.stdout) as Report;
    return out.findings.filter((f) => f.check === "sales" || f.check === "e-mail");
  };
  const products = (home: string, json: object) => {
    const path = join(home, "products.json");
    writeFileSync(path, JSON.stringify(json));
    return path;
  };

  it("says which stores' webhooks are on, and warns of listed products whose store has only an empty placeholder secret and of sales with no SMTP", async () => {
    const dir = tempHome();
    const stripe = join(dir, "stripe-secret");
    writeFileSync(stripe, "whsec_" + "a".repeat(32), { mode: 0o600 });
    const lemon = join(dir, "lemon-secret");
    writeFileSync(lemon, "", { mode: 0o600 });
    const found = await doctor({
      STRIPE_WEBHOOK_SECRET_FILE: stripe,
      LEMONSQUEEZY_WEBHOOK_SECRET_FILE: lemon,
      DATATOOLS_PRODUCTS_FILE: products(dir, {
        stripe: { "core-1y": { tier: "core", years: 1 }, "pro-2y": { tier: "pro", years: 2 } },
        lemonsqueezy: { "123456": { tier: "lite", years: 1 } },
      }),
    });
    expect(found).toEqual([
      {
        check: "sales",
        level: "ok",
        message: "Stripe webhooks are on (2 products in DATATOOLS_PRODUCTS_FILE)",
      },
      expect.objectContaining({
        check: "sales",
        level: "warning",
        message: expect.stringMatching(
          /^Lemon Squeezy webhooks are off \(no signing secret, or an empty LEMONSQUEEZY_WEBHOOK_SECRET_FILE\) although 1 product in DATATOOLS_PRODUCTS_FILE: \/v1\/webhooks\/lemonsqueezy refuses every event with WEBHOOK_NOT_CONFIGURED$/,
        ),
        fix: expect.stringContaining("LEMONSQUEEZY_WEBHOOK_SECRET_FILE"),
      }),
      expect.objectContaining({
        check: "e-mail",
        level: "warning",
        message:
          "SMTP_URL is not set: the license e-mails of Stripe sales wait in the outbox, unsent",
      }),
    ]);
  });

  it("warns of a store whose webhooks are on with no product listed, and names the SMTP server license e-mails leave through", async () => {
    const found = await doctor({
      STRIPE_WEBHOOK_SECRET: "whsec_" + "b".repeat(32),
      SMTP_URL: "smtp://sales@mail.example.com:587",
      DATATOOLS_MAIL_FROM: "DataTools <sales@example.com>",
    });
    expect(found).toEqual([
      expect.objectContaining({
        level: "warning",
        message:
          "Stripe webhooks are on but DATATOOLS_PRODUCTS_FILE lists no Stripe product: every sale is recorded as ignored (unknown product) and issues nothing",
        fix: expect.stringContaining("dtlicense webhooks replay"),
      }),
      {
        check: "sales",
        level: "ok",
        message: "Lemon Squeezy webhooks are off (no signing secret)",
      },
      {
        check: "e-mail",
        level: "ok",
        message:
          "license e-mails go out through smtp://sales@mail.example.com:587 from sales@example.com",
      },
    ]);
  });

  it("reports both stores off and no e-mail finding when nothing of sales is configured", async () => {
    expect(await doctor({})).toEqual([
      { check: "sales", level: "ok", message: "Stripe webhooks are off (no signing secret)" },
      {
        check: "sales",
        level: "ok",
        message: "Lemon Squeezy webhooks are off (no signing secret)",
      },
    ]);
  });
});

describe("dtlicense admin token over the API", () => {
  it("refuses to send the admin token over plain HTTP to another host, sending nothing", async () => {
    const home = tempHome();
    const r = await runInProcess(
      ["admin", "token", "list", "--url", "http://license.example.com"],
      { home, env: { DATATOOLS_ADMIN_TOKEN: "dtl_admin_" + "A".repeat(43) } },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unencrypted");
    expect(r.stderr).toContain("[USAGE]");
    expect(r.stdout).toBe("");
  });
});

describe("help of the operator commands", () => {
  it("has no hard line breaks in any command description, so commander can wrap it", async () => {
    const { buildProgram } = await import("../../src/cli/program.js");
    const ctx = {
      env: {},
      stdout: { write: () => undefined },
      stderr: { write: () => undefined },
      now: () => NOW,
      home: tempHome(),
      interactive: false,
    };
    const walk = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(walk)];
    for (const group of ["doctor", "keys", "admin", "db"]) {
      const program = await buildProgram([group], ctx, { code: 0 });
      for (const cmd of walk(program).slice(1)) {
        expect(cmd.description(), `${group}: ${cmd.name()}`).not.toContain("\n");
      }
    }
  });
});
