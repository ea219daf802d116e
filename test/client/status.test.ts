import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_CATALOGUE, formatTime, parseCatalogue } from "../../src/core/index.js";
import {
  CLOCK_ROLLBACK_TOLERANCE_MS,
  LAST_SEEN_REFRESH_MS,
  licensePath,
  loadLicense,
} from "../../src/client/index.js";
import {
  ADA,
  DAY,
  DEV_PUB,
  NOW,
  VENDOR_PUB,
  clientAt,
  fileBytes,
  mint,
  readRecord,
  sign,
  tempHome,
  vendorSigner,
  writeRecord,
} from "./support.js";

/** A home with Ada's one-year core license activated at NOW. */
function activated(input = {}) {
  const home = tempHome();
  const clock = { now: NOW };
  const client = clientAt(home, clock);
  const { blob } = mint(input);
  client.activate(blob, ADA);
  return { home, clock, client, blob };
}

describe("the license state", () => {
  it("is none, with LICENSE_NONE, when nothing was activated, and writes nothing", () => {
    const home = tempHome();
    const status = clientAt(home, { now: NOW }).status();
    expect(status.state).toBe("none");
    expect(status.code).toBe("LICENSE_NONE");
    expect(status.usable).toBe(false);
    expect(status.hasFeature("deduplicator")).toBe(false);
    expect(status.license).toBeUndefined();
    expect(status.daysLeft).toBeUndefined();
    expect(fileBytes(home)).toBeUndefined();
  });

  it("is active with the tier's features and days left for a fresh license", () => {
    const { client } = activated({ tier: "lite" });
    const status = client.status();
    expect(status.state).toBe("active");
    expect(status.usable).toBe(true);
    expect(status.code).toBeUndefined();
    expect(status.message).toBeUndefined();
    expect(status.tier).toBe("lite");
    expect(status.daysLeft).toBe(365);
    expect(status.features.map((f) => f.id)).toEqual([
      "deduplicator",
      "text-cleaner",
      "format-standardizer",
    ]);
    expect(status.hasFeature("deduplicator")).toBe(true);
    expect(status.hasFeature("pivot-builder")).toBe(false);
    expect(status.hasFeature("no-such-feature")).toBe(false);
  });

  it("unlocks the pro-only features for pro and not for core", () => {
    expect(activated({ tier: "pro" }).client.status().hasFeature("automation")).toBe(true);
    const core = activated({ tier: "core" }).client.status();
    expect(core.hasFeature("automation")).toBe(false);
    expect(core.hasFeature("batch-converter")).toBe(true);
  });

  it("is expiring with 30 whole days left, and active with 31", () => {
    const { client, clock } = activated();
    const expires = new Date("2027-05-13T22:10:27Z").getTime();
    clock.now = new Date(expires - 31 * DAY);
    expect(client.status().state).toBe("active");
    clock.now = new Date(expires - 31 * DAY + 1000);
    const expiring = client.status();
    expect(expiring.state).toBe("expiring");
    expect(expiring.daysLeft).toBe(30);
    expect(expiring.usable).toBe(true);
    expect(expiring.hasFeature("deduplicator")).toBe(true);
    expect(expiring.message).toMatch(/expires in 30 days.*dtlicense renew/);
  });

  it("is expired from the second of expiry on, with no features enabled", () => {
    const { client, clock } = activated();
    clock.now = new Date(new Date("2027-05-13T22:10:27Z").getTime() - 1000);
    expect(client.status().state).toBe("expiring");
    clock.now = new Date("2027-05-13T22:10:27Z");
    const status = client.status();
    expect(status.state).toBe("expired");
    expect(status.code).toBe("LICENSE_EXPIRED");
    expect(status.usable).toBe(false);
    expect(status.daysLeft).toBe(0);
    expect(status.features).toEqual([]);
    expect(status.tierFeatures.length).toBe(9);
    expect(status.hasFeature("deduplicator")).toBe(false);
    expect(status.message).toMatch(/expired on 2027-05-13T22:10:27Z.*renew/);
  });

  it("uses the catalogue it is given", () => {
    const catalogue = parseCatalogue({
      features: [{ id: "export-pdf", name: "PDF export" }],
      tiers: { lite: [], core: ["export-pdf"], pro: ["export-pdf"] },
    });
    const { home } = activated();
    const status = clientAt(home, { now: NOW }, { catalogue }).status();
    expect(status.features.map((f) => f.id)).toEqual(["export-pdf"]);
    expect(status.hasFeature("deduplicator")).toBe(false);
  });

  it("answers the status --json shape", () => {
    const { client } = activated({ licenseKey: "DT1-CORE-ADA-0001" });
    expect(JSON.parse(JSON.stringify(client.status()))).toEqual({
      state: "active",
      license_key: "DT1-CORE-ADA-0001",
      name: ADA.name,
      email: ADA.email,
      tier: "core",
      features: DEFAULT_CATALOGUE.tiers.core,
      issued_at: "2026-05-13T22:10:27Z",
      expires_at: "2027-05-13T22:10:27Z",
      days_left: 365,
      code: null,
      reason: null,
    });
  });

  it("loads and checks in one call with loadLicense", () => {
    const { home } = activated();
    const license = loadLicense({ publicKeys: [DEV_PUB], home, now: () => NOW });
    expect(license.state).toBe("active");
    expect(license.hasFeature("deduplicator")).toBe(true);
  });
});

describe("an invalid stored license", () => {
  it("is tampered when a character of the stored blob was changed", () => {
    const { home, client, blob } = activated();
    const record = readRecord(home);
    const i = blob.indexOf(".") - 5;
    record.blob = blob.slice(0, i) + (blob[i] === "A" ? "B" : "A") + blob.slice(i + 1);
    writeRecord(home, record);
    const before = fileBytes(home);
    const status = client.status();
    expect(status.state).toBe("invalid");
    expect(status.reason).toBe("tampered");
    expect(status.code).toBe("LICENSE_TAMPERED");
    expect(status.usable).toBe(false);
    expect(status.hasFeature("deduplicator")).toBe(false);
    expect(status.message).toMatch(/deactivate --yes.*activate/);
    expect(fileBytes(home)).toEqual(before);
  });

  it("is tampered when the stored blob is swapped for one with a longer expiry but an old signature", () => {
    const { home, client, blob } = activated();
    const [body, sig] = blob.slice("DTLIC2:".length).split(".");
    const payload = JSON.parse(Buffer.from(body!, "base64url").toString("utf8"));
    payload.expires_at = "2099-01-01T00:00:00Z";
    const forged = `DTLIC2:${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${sig}`;
    writeRecord(home, { ...readRecord(home), blob: forged });
    expect(client.status().code).toBe("LICENSE_TAMPERED");
  });

  it("is tampered when the bookkeeping times were edited into something malformed", () => {
    for (const edit of [
      { last_seen_at: "yesterday" },
      { last_seen_at: undefined },
      { activated_at: 5 },
      { renewed_at: "2026-05-13" },
      { version: 2 },
    ]) {
      const { home, client } = activated();
      writeRecord(home, { ...readRecord(home), ...edit });
      const status = client.status();
      expect(status.reason, JSON.stringify(edit)).toBe("tampered");
      expect(status.code).toBe("LICENSE_TAMPERED");
    }
  });

  it("ignores the file's other fields: a hand-written tier or expiry changes nothing", () => {
    const { home, client } = activated({ tier: "lite" });
    writeRecord(home, { ...readRecord(home), tier: "pro", expires_at: "2099-01-01T00:00:00Z" });
    const status = client.status();
    expect(status.state).toBe("active");
    expect(status.tier).toBe("lite");
    expect(status.hasFeature("automation")).toBe(false);
  });

  it("is corrupt when the file is not JSON, not an object, or holds no blob", () => {
    for (const text of ["", "{", "not json", "[1,2]", "null", '{"version":1}', '{"blob":5}']) {
      const { home, client } = activated();
      writeRecord(home, text);
      const status = client.status();
      expect(status.state, text).toBe("invalid");
      expect(status.reason, text).toBe("corrupt");
      expect(status.code).toBe("LICENSE_CORRUPT");
      expect(status.message).toMatch(/damaged/);
    }
  });

  it("is unreadable when the path cannot be read as a file", () => {
    const home = tempHome();
    mkdirSync(licensePath(home), { recursive: true });
    const status = clientAt(home, { now: NOW }).status();
    expect(status.state).toBe("invalid");
    expect(status.reason).toBe("unreadable");
    expect(status.code).toBe("FILE_UNREADABLE");
  });

  it("is untrusted_key, with KEY_UNKNOWN, when signed by a key this build does not trust", () => {
    const home = tempHome();
    const vendor = clientAt(home, { now: NOW }, { publicKeys: [VENDOR_PUB, DEV_PUB] });
    vendor.activate(mint({}, NOW, vendorSigner).blob, ADA);
    const status = clientAt(home, { now: NOW }).status();
    expect(status.state).toBe("invalid");
    expect(status.reason).toBe("untrusted_key");
    expect(status.code).toBe("KEY_UNKNOWN");
    expect(status.message).toMatch(/does not trust/);
  });

  it("keeps verifying licenses of every key in the ring (key rotation)", () => {
    const home = tempHome();
    const ring = { publicKeys: [VENDOR_PUB, DEV_PUB] };
    const client = clientAt(home, { now: NOW }, ring);
    client.activate(mint({}, NOW, vendorSigner).blob, ADA);
    expect(client.status().state).toBe("active");
  });
});

describe("clock rollback", () => {
  it("reports clock_rollback when the clock is more than the tolerance behind last_seen_at", () => {
    const { client, clock } = activated();
    clock.now = new Date(NOW.getTime() + 100 * DAY);
    expect(client.status().state).toBe("active"); // records last_seen_at = NOW + 100 days
    clock.now = new Date(NOW.getTime() + 100 * DAY - CLOCK_ROLLBACK_TOLERANCE_MS);
    expect(client.status().state).toBe("active");
    clock.now = new Date(NOW.getTime() + 100 * DAY - CLOCK_ROLLBACK_TOLERANCE_MS - 1000);
    const status = client.status();
    expect(status.state).toBe("invalid");
    expect(status.reason).toBe("clock_rollback");
    expect(status.code).toBe("CLOCK_ROLLBACK");
    expect(status.usable).toBe(false);
    expect(status.hasFeature("deduplicator")).toBe(false);
    expect(status.license?.name).toBe(ADA.name);
    expect(status.message).toMatch(/set the date and time correctly/);
  });

  it("catches setting the clock back to before expiry once the license was seen expired", () => {
    const { client, clock } = activated();
    clock.now = new Date("2027-06-01T00:00:00Z");
    expect(client.status().state).toBe("expired");
    clock.now = new Date("2027-05-01T00:00:00Z");
    expect(client.status().reason).toBe("clock_rollback");
  });

  it("reports clock_rollback before the license's own issue time, whatever the file says", () => {
    const { home, client, clock } = activated();
    writeRecord(home, { ...readRecord(home), last_seen_at: "2000-01-01T00:00:00Z" });
    clock.now = new Date(NOW.getTime() - 2 * DAY);
    expect(client.status().reason).toBe("clock_rollback");
  });

  it("writes last_seen_at at most once an hour, and never when asked not to", () => {
    const { home, client, clock } = activated();
    const first = fileBytes(home);
    clock.now = new Date(NOW.getTime() + LAST_SEEN_REFRESH_MS - 1000);
    client.status();
    expect(fileBytes(home)).toEqual(first);
    clock.now = new Date(NOW.getTime() + LAST_SEEN_REFRESH_MS);
    client.status({ refresh: false });
    expect(fileBytes(home)).toEqual(first);
    client.status();
    expect(readRecord(home).last_seen_at).toBe(formatTime(clock.now));
    expect(statSync(licensePath(home)).mode & 0o777).toBe(0o600);
  });

  it("does not move last_seen_at while the clock is rolled back or the file is invalid", () => {
    const { home, client, clock } = activated();
    writeRecord(home, { ...readRecord(home), last_seen_at: "2026-12-01T00:00:00Z" });
    const before = fileBytes(home);
    clock.now = new Date("2026-06-01T00:00:00Z");
    expect(client.status().reason).toBe("clock_rollback");
    expect(fileBytes(home)).toEqual(before);
  });

  it("skips the refresh, without failing, while another process holds the lock", () => {
    const { home, client, clock } = activated();
    const before = fileBytes(home);
    writeFileSync(`${licensePath(home)}.lock`, "");
    clock.now = new Date(NOW.getTime() + 2 * LAST_SEEN_REFRESH_MS);
    expect(client.status().state).toBe("active");
    expect(fileBytes(home)).toEqual(before);
    rmSync(`${licensePath(home)}.lock`);
  });

  it("answers even when the home folder cannot be written", () => {
    const { home, client, clock } = activated();
    const dir = licensePath(home).replace(/\/license\.json$/, "");
    chmodSync(dir, 0o500);
    try {
      clock.now = new Date(NOW.getTime() + 2 * LAST_SEEN_REFRESH_MS);
      expect(client.status().state).toBe("active");
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});

describe("a signed expiry just a few days out", () => {
  it("is expiring right after activation", () => {
    const home = tempHome();
    const client = clientAt(home, { now: NOW });
    client.activate(sign({ expires_at: "2026-05-20T22:10:27Z" }), ADA);
    const status = client.status();
    expect(status.state).toBe("expiring");
    expect(status.daysLeft).toBe(7);
  });
});
