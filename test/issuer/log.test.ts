import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEV_PRIVATE_KEY_HEX, importSigner, isLicenseError } from "../../src/core/index.js";
import { IssuanceLog, issueLicense, issuanceLogPath, parseLog } from "../../src/issuer/index.js";
import { tempHome } from "../helpers/cli.js";

const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const NOW = new Date("2026-05-13T22:10:27Z");

function logIn(dir: string) {
  return new IssuanceLog(join(dir, "creator", "issued.jsonl"));
}

describe("the issuance log", () => {
  it("is ~/.datatools-creator/issued.jsonl unless DATATOOLS_ISSUANCE_LOG moves it", () => {
    expect(issuanceLogPath({}, "/home/ada")).toBe("/home/ada/.datatools-creator/issued.jsonl");
    expect(issuanceLogPath({ DATATOOLS_ISSUANCE_LOG: "/srv/x.jsonl" }, "/home/ada")).toBe(
      "/srv/x.jsonl",
    );
  });

  it("creates the log 600 in a 700 folder and writes the seven ADMIN.md fields, then the chain's prev", async () => {
    const log = logIn(tempHome());
    const minted = await issueLicense(
      { name: "Ada Lovelace", email: "ada@example.com", tier: "pro", years: 5 },
      signer,
      NOW,
      log,
    );
    expect(statSync(log.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(log.path, "..")).mode & 0o777).toBe(0o700);
    const line = JSON.parse(readFileSync(log.path, "utf8").trim());
    expect(Object.keys(line)).toEqual([
      "license_key",
      "name",
      "email",
      "tier",
      "issued_at",
      "expires_at",
      "blob",
      "prev",
    ]);
    expect(line).toMatchObject({
      name: "Ada Lovelace",
      email: "ada@example.com",
      tier: "pro",
      issued_at: "2026-05-13T22:10:27Z",
      expires_at: "2031-05-13T22:10:27Z",
      blob: minted.blob,
      prev: "0".repeat(64),
    });
  });

  it("refuses a license key the log holds for a different buyer and appends nothing", async () => {
    const log = logIn(tempHome());
    const input = { name: "Acme", email: "ops@acme.com", licenseKey: "DT1-PRO-ACME-2026" };
    await issueLicense(input, signer, NOW, log);
    const before = readFileSync(log.path);
    const err = await issueLicense(
      { ...input, name: "Other", email: "someone@else.com" },
      signer,
      NOW,
      log,
    ).catch((e: unknown) => e);
    expect(isLicenseError(err, "LICENSE_KEY_TAKEN")).toBe(true);
    expect(readFileSync(log.path).equals(before)).toBe(true);
  });

  it("lets the same buyer be re-minted under the same key, whatever the case of the e-mail", async () => {
    const log = logIn(tempHome());
    const input = { name: "Acme", email: "ops@acme.com", licenseKey: "DT1-PRO-ACME-2026" };
    await issueLicense(input, signer, NOW, log);
    await issueLicense({ ...input, email: "OPS@Acme.com" }, signer, NOW, log);
    expect(log.read().records).toHaveLength(2);
  });

  it("writes nothing when the input is invalid", async () => {
    const home = tempHome();
    const log = logIn(home);
    for (const bad of [
      { name: "", email: "a@b.co" },
      { name: "A", email: "nope" },
      { name: "A", email: "a@b.co", tier: "gold" },
      { name: "A", email: "a@b.co", years: 0 },
      { name: "A", email: "a@b.co", licenseKey: "has space" },
    ]) {
      await expect(issueLicense(bad, signer, NOW, log)).rejects.toThrow();
    }
    expect(log.exists()).toBe(false);
  });

  it("reports a torn last line with its number and keeps every whole record", () => {
    const text =
      '{"license_key":"K1","name":"A","email":"a@b.co","tier":"core","issued_at":"2026-01-01T00:00:00Z","expires_at":"2027-01-01T00:00:00Z","blob":"DTLIC2:x.y"}\n' +
      '{"license_key":"K2","name":"B","email":"b@b.co","tier":"li';
    const { records, problems } = parseLog(text);
    expect(records.map((r) => r.license_key)).toEqual(["K1"]);
    expect(problems).toEqual([
      { line: 2, torn: true, reason: "torn last line (a write was cut off)" },
    ]);
  });

  it("reports lines that are JSON but not records, and skips blank lines", () => {
    const text = '\n[1,2]\n{"license_key":"K"}\n\n';
    const { records, problems } = parseLog(text);
    expect(records).toEqual([]);
    expect(problems.map((p) => [p.line, p.torn])).toEqual([
      [2, false],
      [3, false],
    ]);
    expect(problems[1]!.reason).toMatch(/name/);
  });

  it("starts a fresh line after a torn one, so the next record stays readable", async () => {
    const log = logIn(tempHome());
    await issueLicense({ name: "A", email: "a@example.com" }, signer, NOW, log);
    appendFileSync(log.path, '{"license_key":"DT1-CO');
    await issueLicense({ name: "B", email: "b@example.com" }, signer, NOW, log);
    const { records, problems } = log.read();
    expect(records.map((r) => r.name)).toEqual(["A", "B"]);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.line).toBe(2);
    expect(problems[0]!.torn).toBe(false);
  });

  it("reads a missing log as empty", () => {
    expect(logIn(tempHome()).read()).toEqual({ records: [], problems: [] });
  });

  it("keeps every line when many appends in this process race each other", async () => {
    const log = logIn(tempHome());
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        issueLicense({ name: `Buyer ${i}`, email: `b${i}@example.com` }, signer, NOW, log),
      ),
    );
    const { records, problems } = log.read();
    expect(problems).toEqual([]);
    expect(new Set(records.map((r) => r.email)).size).toBe(25);
  });

  it("reports a line of plain text as not valid JSON", () => {
    const dir = tempHome();
    const path = join(dir, "issued.jsonl");
    writeFileSync(path, "hello\n");
    const { records, problems } = new IssuanceLog(path).read();
    expect(records).toEqual([]);
    expect(problems).toEqual([{ line: 1, torn: false, reason: "not valid JSON" }]);
  });
});
