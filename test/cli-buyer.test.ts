import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { licensePath } from "../src/client/index.js";
import { runInProcess, spawnCli, tempHome, type InProcessOptions } from "./helpers/cli.js";
import {
  ADA,
  DEV_PUB,
  NOW,
  VENDOR_PUB,
  fileBytes,
  mint,
  readRecord,
  sign,
  vendorSigner,
  writeRecord,
} from "./client/support.js";

const DEV_WARNING = /using the public development keypair/;

function cli(home: string, argv: string[], opts: Partial<InProcessOptions> = {}) {
  return runInProcess(argv, { home, now: NOW, ...opts });
}

function activate(home: string, blob: string, extra: string[] = [], opts = {}) {
  return cli(home, ["activate", blob, "--name", ADA.name, "--email", ADA.email, ...extra], opts);
}

/** The stable code at the end of the CLI's one-line error. */
const codeOf = (stderr: string) => /\[([A-Z_0-9]+)\]\n$/.exec(stderr)?.[1];

describe("ADMIN.md's TL;DR round trip", () => {
  it("mints with the dev key, activates, shows status, renews and deactivates", async () => {
    const home = tempHome();
    const minted = await cli(home, [
      "mint",
      "--name",
      "Michael Dombaugh",
      "--email",
      "michael.dombaugh@gmail.com",
      "--tier",
      "core",
    ]);
    expect(minted.code).toBe(0);
    const blob = minted.stdout.trim();
    expect(blob).toMatch(/^DTLIC2:/);

    const act = await cli(home, [
      "activate",
      blob,
      "--name",
      "Michael Dombaugh",
      "--email",
      "michael.dombaugh@gmail.com",
    ]);
    expect(act.code).toBe(0);
    expect(act.stderr).toMatch(DEV_WARNING);
    expect(act.stdout).toMatch(/^Activated DT1-CORE-[0-9a-f]{8}-[0-9a-f]{8} \(core\) for Michael/);
    expect(act.stdout).toContain(licensePath(home));

    const status = await cli(home, ["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^State: +active$/m);
    expect(status.stdout).toMatch(/^Name: +Michael Dombaugh$/m);
    expect(status.stdout).toMatch(/^E-mail: +michael\.dombaugh@gmail\.com$/m);
    expect(status.stdout).toMatch(/^Tier: +core$/m);
    expect(status.stdout).toMatch(/^Features: +Deduplicator, Text Cleaner, .*Batch Converter$/m);
    expect(status.stdout).toMatch(/^Expires: +2027-05-13T22:10:27Z \(365 days left\)$/m);

    const later = new Date("2027-05-01T00:00:00Z");
    const next = await cli(
      home,
      ["mint", "--name", "Michael Dombaugh", "--email", "michael.dombaugh@gmail.com"],
      { now: later },
    );
    const renew = await cli(home, ["renew", next.stdout.trim()], { now: later });
    expect(renew.code).toBe(0);
    expect(renew.stdout).toMatch(
      /^Renewed .*: expires 2028-05-01T00:00:00Z \(was 2027-05-13T22:10:27Z\)\.$/m,
    );

    const off = await cli(home, ["deactivate", "--yes"], { now: later });
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/^Removed the license DT1-CORE-.* from .*license\.json\.$/m);
    expect(existsSync(licensePath(home))).toBe(false);
    expect((await cli(home, ["status"], { now: later })).code).toBe(3);
  });

  it("works end to end as a real process, reading the blob from a file and from stdin", async () => {
    const home = tempHome();
    const { blob } = mint({}, new Date());
    const file = join(home, "buyer.dtlic");
    writeFileSync(file, `${blob}\n`);
    const env = { HOME: home };
    const args = ["--name", ADA.name, "--email", ADA.email];
    const fromFile = await spawnCli(["activate", "--file", file, ...args], env);
    expect(fromFile.code).toBe(0);
    const again = await spawnCli(["activate", "-", ...args], env, blob);
    expect(again.stdout).toMatch(/already active/);
    const status = await spawnCli(["status", "--json"], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).state).toBe("active");
    const off = await spawnCli(["deactivate"], env);
    expect(off.code).toBe(2);
    expect(codeOf(off.stderr)).toBe("USAGE");
    expect(existsSync(licensePath(home))).toBe(true);
  });
});

describe("dtlicense status", () => {
  it("exits 3 for none, 0 for active and expiring, 4 for expired, 5 for invalid", async () => {
    const home = tempHome();
    const none = await cli(home, ["status"]);
    expect(none.code).toBe(3);
    expect(none.stdout).toMatch(/^State: +none$/m);
    expect(none.stdout).toMatch(/dtlicense activate BLOB --name NAME --email EMAIL/);

    await activate(home, mint().blob);
    expect((await cli(home, ["status"])).code).toBe(0);

    const expiring = await cli(home, ["status"], { now: new Date("2027-05-01T00:00:00Z") });
    expect(expiring.code).toBe(0);
    expect(expiring.stdout).toMatch(/^State: +expiring$/m);
    expect(expiring.stdout).toMatch(/expires in 12 days/);

    const expired = await cli(home, ["status"], { now: new Date("2027-06-01T00:00:00Z") });
    expect(expired.code).toBe(4);
    expect(expired.stdout).toMatch(/^State: +expired$/m);
    expect(expired.stdout).toMatch(/^Features: +none enabled \(the core tier unlocks: /m);
    // An expired license says how long ago, never "(0 days left)".
    expect(expired.stdout).toMatch(/^Expires: +2027-05-13T22:10:27Z \(expired 18 days ago\)$/m);
    expect(expired.stdout).not.toMatch(/days left/);

    const rolledBack = await cli(home, ["status", "--json"], { now: new Date("2027-05-01") });
    expect(rolledBack.code).toBe(5);
    expect(JSON.parse(rolledBack.stdout)).toMatchObject({
      state: "invalid",
      reason: "clock_rollback",
      code: "CLOCK_ROLLBACK",
      features: [],
    });

    writeRecord(home, { ...readRecord(home), blob: "DTLIC2:AAAA.BBBB" });
    const tampered = await cli(home, ["status"]);
    expect(tampered.code).toBe(5);
    expect(tampered.stdout).toMatch(/^State: +invalid \(tampered\)$/m);
    expect(tampered.stdout).toMatch(/deactivate --yes, then activate/);
  });

  it("refuses to renew with the stored blob itself while the clock is set back", async () => {
    const home = tempHome();
    const { blob } = mint();
    expect((await activate(home, blob, [], { now: new Date("2026-09-01T00:00:00Z") })).code).toBe(
      0,
    );
    const before = fileBytes(home);
    const renewed = await cli(home, ["renew", blob], { now: new Date("2026-07-01T00:00:00Z") });
    expect(renewed.code).toBe(1);
    expect(codeOf(renewed.stderr)).toBe("CLOCK_ROLLBACK");
    expect(renewed.stdout).not.toMatch(/already the active one/);
    expect(fileBytes(home)).toEqual(before);
  });

  it("reports each invalid reason with its code in --json", async () => {
    const cases: [string, (home: string) => void, string, string][] = [
      ["corrupt", (h) => writeRecord(h, "{"), "corrupt", "LICENSE_CORRUPT"],
      [
        "untrusted",
        (h) => writeRecord(h, { ...readRecord(h), blob: mint({}, NOW, vendorSigner).blob }),
        "untrusted_key",
        "KEY_UNKNOWN",
      ],
      [
        "edited",
        (h) => writeRecord(h, { ...readRecord(h), last_seen_at: "soon" }),
        "tampered",
        "LICENSE_TAMPERED",
      ],
    ];
    for (const [label, spoil, reason, code] of cases) {
      const home = tempHome();
      await activate(home, mint().blob);
      spoil(home);
      const r = await cli(home, ["status", "--json"]);
      expect(r.code, label).toBe(5);
      expect(JSON.parse(r.stdout), label).toMatchObject({ state: "invalid", reason, code });
    }
  });

  it("prints the documented JSON shape", async () => {
    const home = tempHome();
    await activate(home, mint({ tier: "lite", licenseKey: "DT1-LITE-ADA" }).blob);
    const r = await cli(home, ["status", "--json"]);
    expect(JSON.parse(r.stdout)).toEqual({
      state: "active",
      license_key: "DT1-LITE-ADA",
      name: ADA.name,
      email: ADA.email,
      tier: "lite",
      features: ["deduplicator", "text-cleaner", "format-standardizer"],
      issued_at: "2026-05-13T22:10:27Z",
      expires_at: "2027-05-13T22:10:27Z",
      days_left: 365,
      code: null,
      reason: null,
    });
  });

  it("documents its exit statuses in --help", async () => {
    const r = await cli(tempHome(), ["status", "--help"]);
    expect(r.code).toBe(0);
    for (const line of [/^ {2}0 {2}active or expiring/m, /^ {2}3 {2}none/m, /^ {2}4 {2}expired/m]) {
      expect(r.stdout).toMatch(line);
    }
    expect(r.stdout).toMatch(/^ {2}5 {2}invalid/m);
  });

  it("uses the catalogue $DATATOOLS_CATALOGUE names", async () => {
    const home = tempHome();
    const catalogue = join(home, "catalogue.json");
    writeFileSync(
      catalogue,
      JSON.stringify({
        features: [{ id: "export-pdf", name: "PDF export" }],
        tiers: { lite: [], core: ["export-pdf"], pro: ["export-pdf"] },
      }),
    );
    await activate(home, mint().blob);
    const r = await cli(home, ["status", "--json"], { env: { DATATOOLS_CATALOGUE: catalogue } });
    expect(JSON.parse(r.stdout).features).toEqual(["export-pdf"]);
  });

  it("verifies with every key of DATATOOLS_LICENSE_PUBKEY, warning when one is the dev key", async () => {
    const home = tempHome();
    const vendorOnly = { DATATOOLS_LICENSE_PUBKEY: VENDOR_PUB };
    const act = await activate(home, mint({}, NOW, vendorSigner).blob, [], { env: vendorOnly });
    expect(act.code).toBe(0);
    expect(act.stderr).toBe("");
    const both = { DATATOOLS_LICENSE_PUBKEY: `${VENDOR_PUB}, ${DEV_PUB}` };
    const rotated = await cli(home, ["status"], { env: both });
    expect(rotated.code).toBe(0);
    expect(rotated.stderr).toMatch(DEV_WARNING);
    const devOnly = await cli(home, ["status"]);
    expect(devOnly.code).toBe(5);
    expect(devOnly.stdout).toMatch(/invalid \(untrusted_key\)/);
  });
});

describe("dtlicense activate", () => {
  it("refuses each bad input with its code and exit status, writing nothing", async () => {
    const home = tempHome();
    const { blob } = mint();
    const huge = join(home, "huge.dtlic");
    writeFileSync(huge, "A".repeat(100_000));
    const empty = join(home, "empty.dtlic");
    writeFileSync(empty, "\n");
    const cases: [string[], number, string, RegExp?][] = [
      [["activate", "--name", ADA.name, "--email", ADA.email], 2, "USAGE", /as an argument/],
      [["activate", "", "--name", "A", "--email", "a@b.co"], 1, "BLOB_EMPTY"],
      [["activate", "--file", empty, "--name", "A", "--email", "a@b.co"], 1, "BLOB_EMPTY"],
      [["activate", "--file", huge, "--name", "A", "--email", "a@b.co"], 1, "BLOB_TOO_LARGE"],
      [["activate", "DTLIC2:abc", "--name", "A", "--email", "a@b.co"], 1, "BLOB_MALFORMED"],
      [
        ["activate", blob.slice(0, -4) + "AAAA", "--name", ADA.name, "--email", ADA.email],
        1,
        "SIGNATURE_INVALID",
      ],
      [
        ["activate", blob, "--file", "x.dtlic", "--name", ADA.name, "--email", ADA.email],
        2,
        "USAGE",
      ],
      [
        ["activate", blob, "--name", "Ada Byron", "--email", ADA.email],
        1,
        "IDENTITY_MISMATCH",
        /^dtlicense: the name you gave does not match the license/m,
      ],
      [
        ["activate", blob, "--name", ADA.name, "--email", "someone@else.org"],
        1,
        "IDENTITY_MISMATCH",
        /the e-mail you gave/,
      ],
      [
        ["activate", "DTLIC1:abc.def", "--name", "A", "--email", "a@b.co"],
        1,
        "BLOB_V1_UNSUPPORTED",
      ],
      [["activate", "hello", "--name", "A", "--email", "a@b.co"], 1, "BLOB_PREFIX_UNKNOWN"],
      [["activate", `${blob}x`, "--name", ADA.name, "--email", ADA.email], 1, "BLOB_ENCODING"],
      [
        ["activate", "--file", join(home, "missing.dtlic"), "--name", "A", "--email", "a@b.co"],
        1,
        "FILE_UNREADABLE",
      ],
      [
        [
          "activate",
          sign({ expires_at: "2026-05-01T00:00:00Z", issued_at: "2025-05-01T00:00:00Z" }),
          "--name",
          ADA.name,
          "--email",
          ADA.email,
        ],
        1,
        "LICENSE_EXPIRED",
      ],
    ];
    for (const [argv, exit, code, message] of cases) {
      const r = await cli(home, argv);
      expect(r.code, argv.join(" ")).toBe(exit);
      expect(codeOf(r.stderr), argv.join(" ")).toBe(code);
      expect(r.stderr).not.toMatch(/\n {4}at /);
      if (message) expect(r.stderr).toMatch(message);
    }
    const noName = await cli(home, ["activate", blob, "--email", ADA.email]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/--name/);
    expect(fileBytes(home)).toBeUndefined();
  });

  it("hints at --file when the argument names a file", async () => {
    const home = tempHome();
    const file = join(home, "buyer.dtlic");
    writeFileSync(file, mint().blob);
    const r = await activate(home, file);
    expect(codeOf(r.stderr)).toBe("BLOB_PREFIX_UNKNOWN");
    expect(r.stderr).toContain(`use --file ${file}`);
  });

  it("needs --force to replace another active license, and says what it replaced", async () => {
    const home = tempHome();
    await activate(home, mint({ licenseKey: "DT1-CORE-OLD" }).blob);
    const before = fileBytes(home);
    const other = mint({ tier: "pro", licenseKey: "DT1-PRO-NEW" }).blob;
    const refused = await activate(home, other);
    expect(refused.code).toBe(1);
    expect(codeOf(refused.stderr)).toBe("LICENSE_EXISTS");
    expect(fileBytes(home)).toEqual(before);
    const forced = await activate(home, other, ["--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^Replaced license DT1-CORE-OLD \(core\)/m);
    expect(readRecord(home).blob).toBe(other);
  });

  it("refuses a license the clock says is not issued yet", async () => {
    const home = tempHome();
    const r = await activate(home, mint().blob, [], { now: new Date("2026-05-01T00:00:00Z") });
    expect(codeOf(r.stderr)).toBe("CLOCK_ROLLBACK");
    expect(fileBytes(home)).toBeUndefined();
  });
});

describe("dtlicense renew", () => {
  it("refuses each wrong renewal with its code, leaving the license as it was", async () => {
    const home = tempHome();
    const none = await cli(home, ["renew", mint().blob]);
    expect(codeOf(none.stderr)).toBe("LICENSE_NONE");
    expect(fileBytes(home)).toBeUndefined();

    await activate(home, mint({ years: 2 }).blob);
    const before = fileBytes(home);
    const cases: [string, string][] = [
      [mint({ email: "eve@example.org", years: 3 }).blob, "RENEW_DIFFERENT_BUYER"],
      [mint({ years: 1 }).blob, "RENEW_EARLIER_EXPIRY"],
      ["DTLIC2:garbage", "BLOB_MALFORMED"],
    ];
    for (const [blob, code] of cases) {
      const r = await cli(home, ["renew", blob]);
      expect(r.code, code).toBe(1);
      expect(codeOf(r.stderr)).toBe(code);
    }
    const usage = await cli(home, ["renew"]);
    expect(usage.code).toBe(2);
    expect(fileBytes(home)).toEqual(before);
  });

  it("reads the new blob from --file", async () => {
    const home = tempHome();
    await activate(home, mint().blob);
    const file = join(home, "renewal.dtlic");
    writeFileSync(file, `\n${mint({ years: 3 }).blob}\n\n`);
    const r = await cli(home, ["renew", "--file", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/expires 2029-05-13T22:10:27Z/);
  });
});

describe("dtlicense deactivate", () => {
  it("without a terminal and without --yes refuses with USAGE and removes nothing", async () => {
    const home = tempHome();
    await activate(home, mint().blob);
    const before = fileBytes(home);
    const r = await cli(home, ["deactivate"]);
    expect(r.code).toBe(2);
    expect(codeOf(r.stderr)).toBe("USAGE");
    expect(r.stderr).toMatch(/pass --yes\. Nothing was removed\./);
    expect(fileBytes(home)).toEqual(before);
  });

  it("on a terminal asks first: 'n' keeps the license, 'y' removes it", async () => {
    const home = tempHome();
    await activate(home, mint({ licenseKey: "DT1-CORE-ASKED" }).blob);
    const before = fileBytes(home);
    const no = await cli(home, ["deactivate"], { interactive: true, answers: ["n"] });
    expect(no.code).toBe(1);
    expect(no.stderr).toMatch(/nothing was removed/);
    expect(fileBytes(home)).toEqual(before);
    const yes = await cli(home, ["deactivate"], { interactive: true, answers: ["yes"] });
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/^Removed the license DT1-CORE-ASKED/);
    expect(fileBytes(home)).toBeUndefined();
  });

  it("removes a tampered file, and says so when there is nothing to remove", async () => {
    const home = tempHome();
    await activate(home, mint().blob);
    writeRecord(home, "{}");
    const r = await cli(home, ["deactivate", "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Removed the corrupt license file/);
    const again = await cli(home, ["deactivate", "--yes"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing was removed/);
  });
});

describe("the production start-up check", () => {
  it("refuses every buyer command when NODE_ENV=production and the keys are the dev pair", async () => {
    const home = tempHome();
    for (const argv of [
      ["status"],
      ["activate", mint().blob, "--name", "x", "--email", "a@b.co"],
      ["renew", mint().blob],
      ["deactivate", "--yes"],
    ]) {
      const r = await cli(home, argv, { env: { NODE_ENV: "production" } });
      expect(r.code, argv.join(" ")).toBe(1);
      expect(codeOf(r.stderr)).toBe("DEV_KEY_IN_PRODUCTION");
      expect(r.stderr).toMatch(/NODE_ENV=production/);
    }
    expect(fileBytes(home)).toBeUndefined();
  });

  it("still prints help and the version, which trust no key", async () => {
    const home = tempHome();
    for (const argv of [["--help"], ["--version"], ["status", "--help"]]) {
      const r = await cli(home, argv, { env: { NODE_ENV: "production" } });
      expect(r.code, argv.join(" ")).toBe(0);
      expect(r.stderr, argv.join(" ")).toBe("");
    }
  });

  it("runs with NODE_ENV=production when DATATOOLS_LICENSE_PUBKEY names the vendor's key", async () => {
    const home = tempHome();
    const env = { NODE_ENV: "production", DATATOOLS_LICENSE_PUBKEY: VENDOR_PUB };
    const r = await activate(home, mint({}, NOW, vendorSigner).blob, [], { env });
    expect(r.code).toBe(0);
    expect((await cli(home, ["status"], { env })).code).toBe(0);
  });

  it("applies to the real process too", async () => {
    const r = await spawnCli(["status"], { HOME: tempHome(), NODE_ENV: "production" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[DEV_KEY_IN_PRODUCTION\]\n$/);
  });
});
