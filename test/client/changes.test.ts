import { statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { isLicenseError, type ErrorCode } from "../../src/core/index.js";
import { LicenseClient, licensePath } from "../../src/client/index.js";
import {
  ADA,
  DAY,
  NOW,
  clientAt,
  fileBytes,
  mint,
  readRecord,
  sign,
  tempHome,
  vendorSigner,
} from "./support.js";

/** Runs `fn`, expects a LicenseError with `code`, and returns its message. */
function refused(code: ErrorCode, fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (!isLicenseError(err)) throw err;
    expect(err.code).toBe(code);
    return err.message;
  }
  throw new Error(`expected ${code}, but nothing was thrown`);
}

function setup() {
  const home = tempHome();
  const clock = { now: NOW };
  return { home, clock, client: clientAt(home, clock) };
}

describe("activating", () => {
  it("stores the blob with its bookkeeping, mode 600 in a folder of mode 700", () => {
    const { home, client } = setup();
    const { blob } = mint();
    const result = client.activate(`  ${blob.slice(0, 40)}\n${blob.slice(40)}  `, ADA);
    expect(result.changed).toBe(true);
    expect(result.previous).toBeUndefined();
    expect(result.status.state).toBe("active");
    expect(readRecord(home)).toEqual({
      version: 1,
      blob,
      activated_at: "2026-05-13T22:10:27Z",
      last_seen_at: "2026-05-13T22:10:27Z",
    });
    expect(statSync(licensePath(home)).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(licensePath(home))).mode & 0o777).toBe(0o700);
  });

  it("matches name and e-mail after NFC, trimming, collapsing spaces and case-folding", () => {
    const { client } = setup();
    const { blob } = mint({ name: "Zoë Saldaña", email: "Zoe@Example.com" });
    const decomposed = "  zoe\u0308   SALDAN\u0303A ";
    expect(client.activate(blob, { name: decomposed, email: " zoe@example.COM " }).changed).toBe(
      true,
    );
  });

  it("says which of name and e-mail differs, never the signed value", () => {
    const { home, client } = setup();
    const { blob } = mint({ name: "Ada Lovelace", email: "ada@example.com" });
    const cases: [{ name: string; email: string }, RegExp][] = [
      [{ name: "Ada Byron", email: ADA.email }, /^the name you gave does not match/],
      [{ name: ADA.name, email: "ada@example.org" }, /^the e-mail you gave does not match/],
      [{ name: "Eve", email: "eve@example.org" }, /^neither the name nor the e-mail/],
    ];
    for (const [identity, pattern] of cases) {
      const message = refused("IDENTITY_MISMATCH", () => client.activate(blob, identity));
      expect(message).toMatch(pattern);
      expect(message).not.toContain("Lovelace");
      expect(message).not.toContain("ada@example.com");
    }
    expect(fileBytes(home)).toBeUndefined();
  });

  it("refuses an expired license and a clock behind the issue time, writing nothing", () => {
    const { home, client, clock } = setup();
    clock.now = new Date("2027-05-13T22:10:27Z");
    expect(refused("LICENSE_EXPIRED", () => client.activate(mint().blob, ADA))).toMatch(
      /expired on 2027-05-13T22:10:27Z/,
    );
    clock.now = new Date(NOW.getTime() - 2 * DAY);
    refused("CLOCK_ROLLBACK", () => client.activate(mint().blob, ADA));
    expect(fileBytes(home)).toBeUndefined();
  });

  it("refuses to replace another usable license without force, and replaces it with force", () => {
    const { home, client } = setup();
    const first = mint({ licenseKey: "DT1-CORE-FIRST" });
    client.activate(first.blob, ADA);
    const before = fileBytes(home);
    const second = mint({ tier: "pro", licenseKey: "DT1-PRO-SECOND" });
    expect(refused("LICENSE_EXISTS", () => client.activate(second.blob, ADA))).toMatch(
      /DT1-CORE-FIRST.*renew.*--force/,
    );
    expect(fileBytes(home)).toEqual(before);
    const result = client.activate(second.blob, ADA, { force: true });
    expect(result.previous?.license_key).toBe("DT1-CORE-FIRST");
    expect(result.status.tier).toBe("pro");
  });

  it("replaces an expired or invalid license without force", () => {
    const { home, client, clock } = setup();
    client.activate(mint().blob, ADA);
    clock.now = new Date("2027-06-01T00:00:00Z");
    const next = mint({}, clock.now);
    expect(client.activate(next.blob, ADA).changed).toBe(true);
    expect(readRecord(home).blob).toBe(next.blob);
  });

  it("refuses, writing nothing, to activate over a license whose clock was set back", () => {
    const { home, client, clock } = setup();
    const { blob } = mint();
    client.activate(blob, ADA);
    clock.now = new Date("2026-09-01T00:00:00Z");
    client.status();
    clock.now = new Date("2026-07-01T00:00:00Z");
    expect(client.status().reason).toBe("clock_rollback");
    const before = fileBytes(home);
    for (const again of [blob, mint({ licenseKey: "DT1-CORE-OTHER" }, NOW).blob]) {
      expect(refused("CLOCK_ROLLBACK", () => client.activate(again, ADA, { force: true }))).toMatch(
        /set the date and time correctly/,
      );
    }
    expect(fileBytes(home)).toEqual(before);
  });

  it("keeps a later last_seen_at when activating over a genuine license", () => {
    const { home, client, clock } = setup();
    client.activate(mint().blob, ADA);
    clock.now = new Date("2026-09-01T00:00:00Z");
    client.status();
    clock.now = new Date("2026-08-31T12:00:00Z");
    client.activate(mint({ tier: "pro" }, NOW).blob, ADA, { force: true });
    expect(readRecord(home)).toMatchObject({
      activated_at: "2026-08-31T12:00:00Z",
      last_seen_at: "2026-09-01T00:00:00Z",
    });
  });

  it("does nothing when the same license is activated again", () => {
    const { home, client, clock } = setup();
    const { blob } = mint();
    client.activate(blob, ADA);
    const before = fileBytes(home);
    clock.now = new Date(NOW.getTime() + 60_000);
    expect(client.activate(blob, ADA).changed).toBe(false);
    expect(fileBytes(home)).toEqual(before);
  });

  it("refuses a blob signed by a key it does not trust, keeping the previous license", () => {
    const { home, client } = setup();
    client.activate(mint().blob, ADA);
    const before = fileBytes(home);
    refused("KEY_UNKNOWN", () =>
      client.activate(mint({}, NOW, vendorSigner).blob, ADA, { force: true }),
    );
    expect(fileBytes(home)).toEqual(before);
  });

  it("needs at least one public key", () => {
    refused("KEY_MISSING", () => new LicenseClient({ publicKeys: [], home: tempHome() }));
    refused("KEY_INVALID", () => new LicenseClient({ publicKeys: ["abc"], home: tempHome() }));
  });
});

describe("renewing", () => {
  it("replaces the license with a later one for the same e-mail, keeping activated_at", () => {
    const { home, client, clock } = setup();
    client.activate(mint().blob, ADA);
    clock.now = new Date("2027-05-01T00:00:00Z");
    const next = mint({ years: 1, tier: "pro", name: "Ada King" }, clock.now);
    const result = client.renew(next.blob);
    expect(result.changed).toBe(true);
    expect(result.previous?.expires_at).toBe("2027-05-13T22:10:27Z");
    expect(result.status.state).toBe("active");
    expect(result.status.tier).toBe("pro");
    expect(readRecord(home)).toMatchObject({
      blob: next.blob,
      activated_at: "2026-05-13T22:10:27Z",
      renewed_at: "2027-05-01T00:00:00Z",
      last_seen_at: "2027-05-01T00:00:00Z",
    });
  });

  it("renews an expired license", () => {
    const { client, clock } = setup();
    client.activate(mint().blob, ADA);
    clock.now = new Date("2027-08-01T00:00:00Z");
    expect(client.status().state).toBe("expired");
    expect(client.renew(mint({}, clock.now).blob).status.state).toBe("active");
  });

  it("refuses, changing nothing, each way a renewal can be wrong", () => {
    const { home, client, clock } = setup();
    refused("LICENSE_NONE", () => client.renew(mint().blob));
    expect(fileBytes(home)).toBeUndefined();

    client.activate(mint({ years: 2 }).blob, ADA);
    const before = fileBytes(home);
    expect(
      refused("RENEW_DIFFERENT_BUYER", () =>
        client.renew(mint({ email: "eve@example.org", years: 3 }).blob),
      ),
    ).toMatch(/activate .*--force/);
    expect(refused("RENEW_EARLIER_EXPIRY", () => client.renew(mint({ years: 1 }).blob))).toMatch(
      /expires on 2027-05-13T22:10:27Z, before the activated one \(2028-05-13T22:10:27Z\)/,
    );
    // One signature character changed (never to itself: the old test's "AA" tail was the
    // blob's own tail once in 256 runs).
    const good = mint({ years: 3 }).blob;
    const flipped = good.slice(0, -10) + (good.at(-10) === "A" ? "B" : "A") + good.slice(-9);
    refused("SIGNATURE_INVALID", () => client.renew(flipped));
    refused("KEY_UNKNOWN", () => client.renew(mint({ years: 3 }, NOW, vendorSigner).blob));
    refused("BLOB_PREFIX_UNKNOWN", () => client.renew("hello"));
    clock.now = new Date("2031-01-01T00:00:00Z");
    refused("LICENSE_EXPIRED", () => client.renew(sign({ expires_at: "2030-01-01T00:00:00Z" })));
    expect(fileBytes(home)).toEqual(before);
  });

  it("accepts a different name and e-mail case for the same buyer", () => {
    const { client } = setup();
    client.activate(mint().blob, ADA);
    expect(client.renew(mint({ email: "ADA@EXAMPLE.COM", years: 2 }).blob).changed).toBe(true);
  });

  it("refuses to renew over a stored license that is not genuine, with its code", () => {
    const { home, client } = setup();
    client.activate(mint().blob, ADA);
    const record = readRecord(home);
    record.blob = String(record.blob).replace("DTLIC2:e", "DTLIC2:f");
    writeFileSync(licensePath(home), JSON.stringify(record));
    const before = fileBytes(home);
    expect(refused("LICENSE_TAMPERED", () => client.renew(mint({ years: 2 }).blob))).toMatch(
      /cannot be renewed/,
    );
    expect(fileBytes(home)).toEqual(before);
  });

  it("keeps a later last_seen_at, so renewing does not move the clock check back", () => {
    const { home, client, clock } = setup();
    client.activate(mint().blob, ADA);
    clock.now = new Date("2026-09-01T00:00:00Z");
    client.status();
    clock.now = new Date("2026-08-31T12:00:00Z");
    client.renew(mint({ years: 2 }).blob);
    expect(readRecord(home).last_seen_at).toBe("2026-09-01T00:00:00Z");
    expect(client.status().state).toBe("active");
  });

  it("refuses, writing nothing, to renew while the clock is set back", () => {
    const { home, client, clock } = setup();
    client.activate(mint().blob, ADA);
    clock.now = new Date("2026-09-01T00:00:00Z");
    client.status();
    clock.now = new Date("2026-08-01T00:00:00Z");
    const before = fileBytes(home);
    expect(refused("CLOCK_ROLLBACK", () => client.renew(mint({ years: 2 }).blob))).toMatch(
      /set the date and time correctly/,
    );
    expect(fileBytes(home)).toEqual(before);
    expect(client.status().reason).toBe("clock_rollback");
  });

  it("does nothing when given the stored license again", () => {
    const { home, client } = setup();
    const { blob } = mint();
    client.activate(blob, ADA);
    const before = fileBytes(home);
    expect(client.renew(blob).changed).toBe(false);
    expect(fileBytes(home)).toEqual(before);
  });
});

describe("deactivating", () => {
  it("removes the file and says what it was", () => {
    const { home, client } = setup();
    client.activate(mint({ licenseKey: "DT1-CORE-GONE" }).blob, ADA);
    const result = client.deactivate();
    expect(result.removed).toBe(true);
    expect(result.previous.license?.license_key).toBe("DT1-CORE-GONE");
    expect(fileBytes(home)).toBeUndefined();
    expect(client.status().state).toBe("none");
  });

  it("removes an invalid file too, and reports nothing removed when there is none", () => {
    const { home, client } = setup();
    client.activate(mint().blob, ADA);
    writeFileSync(licensePath(home), "garbage");
    const result = client.deactivate();
    expect(result.removed).toBe(true);
    expect(result.previous.reason).toBe("corrupt");
    expect(client.deactivate().removed).toBe(false);
  });

  it("breaks a lock file that cannot be read once it is a few seconds old", () => {
    const { home, client } = setup();
    client.activate(mint().blob, ADA);
    const lock = `${licensePath(home)}.lock`;
    writeFileSync(lock, "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(client.deactivate().removed).toBe(true);
  });

  it("gives up with FILE_UNWRITABLE while a fresh lock is held", () => {
    const { home, client } = setup();
    client.activate(mint().blob, ADA);
    writeFileSync(`${licensePath(home)}.lock`, "");
    const before = fileBytes(home);
    expect(refused("FILE_UNWRITABLE", () => client.deactivate())).toMatch(/another process/);
    expect(fileBytes(home)).toEqual(before);
  });
});
