// The issuance log's hash chain: what each append links to, and what verifyLogChain catches.
import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEV_PRIVATE_KEY_HEX, importSigner, mintLicense } from "../../src/core/index.js";
import {
  IssuanceLog,
  LINE_FIELDS,
  LOG_GENESIS,
  issueLicense,
  lineHash,
  parseLog,
  pick,
  readRecord,
  toRecord,
  verifyLogChain,
} from "../../src/issuer/index.js";
import { spawnCli, tempHome } from "../helpers/cli.js";

const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const NOW = new Date("2026-05-13T22:10:27Z");

function record(name: string) {
  return toRecord(mintLicense({ name, email: `${name.toLowerCase()}@example.com` }, signer, NOW));
}

/** A log of `n` lines appended by this code. */
async function logOf(n: number, names = ["Ada", "Bob", "Cyd", "Dee", "Eve", "Fay"]) {
  const log = new IssuanceLog(join(tempHome(), "creator", "issued.jsonl"));
  for (const name of names.slice(0, n)) await log.append(record(name));
  return log;
}

const linesOf = (path: string) => readFileSync(path, "utf8").split("\n").slice(0, -1);
const writeLines = (path: string, lines: readonly string[]) =>
  writeFileSync(path, lines.map((l) => `${l}\n`).join(""));
const check = (path: string, expectHead?: string) =>
  verifyLogChain(readFileSync(path), expectHead === undefined ? {} : { expectHead });

describe("the issuance log's chain", () => {
  it("links each line to the SHA-256 of the line before, the first to 64 zeros", async () => {
    const log = await logOf(3);
    const lines = linesOf(log.path);
    const prevs = lines.map((l) => JSON.parse(l).prev);
    expect(prevs).toEqual([LOG_GENESIS, lineHash(lines[0]!), lineHash(lines[1]!)]);
    expect(lineHash(lines[0]!)).toMatch(/^[0-9a-f]{64}$/);
    expect(check(log.path)).toEqual({
      ok: true,
      records: 3,
      chained: 3,
      unchained: 0,
      head: lineHash(lines[2]!),
      head_line: 3,
      broken: null,
      unreadable: [],
    });
  });

  it("keeps the records readers read: the seven fields, with the prev beside them", async () => {
    const log = await logOf(2);
    const { records, problems } = log.read();
    expect(problems).toEqual([]);
    expect(records.map((r) => r.name)).toEqual(["Ada", "Bob"]);
    expect(records[0]!.prev).toBe(LOG_GENESIS);
    expect(Object.keys(records[1]!)).toEqual(["line", ...LINE_FIELDS, "prev"]);
    expect(readRecord({ ...pick(records[0]!), prev: 7 })).toEqual({
      problem: "field prev is not text",
    });
  });

  it("catches an edited line at the line after it, and an edited prev at its own line", async () => {
    const log = await logOf(4);
    const lines = linesOf(log.path);
    writeLines(
      log.path,
      lines.map((l, i) => (i === 1 ? l.replace('"Bob"', '"Rob"') : l)),
    );
    const report = check(log.path);
    expect(report.ok).toBe(false);
    expect(report.broken).toEqual({
      line: 3,
      reason:
        "line 3's prev is not the hash of line 2: one of them was changed, lines between them " +
        "were removed, or line 3 was inserted or moved",
    });
    const prev3 = JSON.parse(lines[2]!).prev as string;
    writeLines(
      log.path,
      lines.map((l, i) => (i === 2 ? l.replace(prev3, "f".repeat(64)) : l)),
    );
    expect(check(log.path).broken?.line).toBe(3);
  });

  it("catches a deleted line at the line that took its place", async () => {
    const log = await logOf(4);
    const lines = linesOf(log.path);
    writeLines(log.path, [lines[0]!, lines[2]!, lines[3]!]);
    expect(check(log.path).broken).toMatchObject({ line: 2 });
    expect(check(log.path).broken?.reason).toMatch(/^line 2's prev is not the hash of line 1:/);
  });

  it("catches a deleted first line: the next one does not follow the 64 zeros", async () => {
    const log = await logOf(3);
    writeLines(log.path, linesOf(log.path).slice(1));
    expect(check(log.path).broken).toEqual({
      line: 1,
      reason:
        "line 1 is the first record but its prev is not the 00000000… a log starts with: " +
        "lines before it were removed, or it was changed or moved",
    });
  });

  it("catches two lines that swapped places, at the first of them", async () => {
    const log = await logOf(4);
    const [a, b, c, d] = linesOf(log.path);
    writeLines(log.path, [a!, c!, b!, d!]);
    expect(check(log.path).broken?.line).toBe(2);
  });

  it("catches an inserted line without a prev at its own line, and one with a copied prev at the next", async () => {
    const log = await logOf(3);
    const lines = linesOf(log.path);
    const intruder = pick(record("Mallory"));
    writeLines(log.path, [lines[0]!, lines[1]!, JSON.stringify(intruder), lines[2]!]);
    expect(check(log.path).broken).toEqual({
      line: 3,
      reason: "line 3 has no prev, but lines before it do: it was inserted, or its prev removed",
    });
    const forged = JSON.stringify({ ...intruder, prev: lineHash(lines[1]!) });
    writeLines(log.path, [lines[0]!, lines[1]!, forged, lines[2]!]);
    expect(check(log.path).broken?.line).toBe(4);
  });

  it("cannot see its last line removed, but a head recorded earlier can", async () => {
    const log = await logOf(3);
    const recorded = check(log.path).head;
    await log.append(record("Dee"));
    // The log grew: the recorded head is still one of its lines.
    expect(check(log.path, recorded)).toMatchObject({
      ok: true,
      expected_head: { hash: recorded, line: 3 },
    });
    writeLines(log.path, linesOf(log.path).slice(0, 2));
    expect(check(log.path)).toMatchObject({ ok: true, broken: null, records: 2 });
    expect(check(log.path, recorded)).toMatchObject({
      ok: false,
      broken: null,
      expected_head: { hash: recorded, line: null },
    });
  });

  it("accepts a log written before the chain and chains the next line to its last line", async () => {
    const path = join(tempHome(), "issued.jsonl");
    const legacy = ["Old", "Older"].map((n) => JSON.stringify(pick(record(n))));
    writeLines(path, legacy);
    const log = new IssuanceLog(path);
    await log.append(record("New"));
    await log.append(record("Newer"));
    const lines = linesOf(path);
    expect(JSON.parse(lines[2]!).prev).toBe(lineHash(legacy[1]!));
    expect(check(path)).toMatchObject({
      ok: true,
      records: 4,
      chained: 2,
      unchained: 2,
      head_line: 4,
    });
    // Removing the last line before the chain is caught; an earlier one cannot be.
    writeLines(path, [lines[0]!, lines[2]!, lines[3]!]);
    expect(check(path).broken?.line).toBe(2);
    writeLines(path, lines.slice(1));
    expect(check(path).ok).toBe(true);
    // A line without prev after chained ones is not from before the chain.
    appendFileSync(path, `${legacy[0]}\n`);
    expect(check(path).broken?.line).toBe(4);
  });

  it("chains the line after a torn one to the last whole record, so the fragment can be removed", async () => {
    const log = await logOf(1);
    appendFileSync(log.path, '{"license_key":"DT1-CO');
    await log.append(record("Bob"));
    const lines = linesOf(log.path);
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[2]!).prev).toBe(lineHash(lines[0]!));
    const report = check(log.path);
    expect(report).toMatchObject({ ok: true, records: 2, head_line: 3 });
    expect(report.unreadable).toEqual([{ line: 2, torn: false, reason: "not valid JSON" }]);
    writeLines(log.path, [lines[0]!, lines[2]!]);
    expect(check(log.path)).toMatchObject({ ok: true, records: 2, unreadable: [] });
  });

  it("hashes a line's exact bytes: a changed byte that reads the same still breaks the chain", async () => {
    const log = await logOf(2);
    const lines = linesOf(log.path);
    // Same record, other spacing: readers see no difference, the chain does.
    writeLines(log.path, [lines[0]!.replace(":", ": "), lines[1]!]);
    expect(parseLog(readFileSync(log.path, "utf8")).records).toHaveLength(2);
    expect(check(log.path).broken?.line).toBe(2);
  });

  it.runIf(spawnSync("jq", ["--version"]).status === 0)(
    "leaves the original handbook's jq one-liners working on a chained log",
    async () => {
      const path = join(tempHome(), "issued.jsonl");
      writeLines(path, [JSON.stringify(pick(record("Old")))]);
      const log = new IssuanceLog(path);
      const bob = record("Bob");
      await log.append(bob);
      await log.append(record("Cyd"));
      const jq = (...args: string[]) => spawnSync("jq", [...args, path], { encoding: "utf8" });
      expect(jq("-r", 'select(.email == "bob@example.com") | .blob').stdout).toBe(`${bob.blob}\n`);
      expect(jq("-r", ".tier").stdout).toBe("core\ncore\ncore\n");
      expect(jq("-r", ".email").stdout).toBe("old@example.com\nbob@example.com\ncyd@example.com\n");
    },
  );

  it("keeps one chain when many appends in this process race each other", async () => {
    const log = new IssuanceLog(join(tempHome(), "issued.jsonl"));
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        issueLicense({ name: `Buyer ${i}`, email: `b${i}@example.com` }, signer, NOW, log),
      ),
    );
    expect(check(log.path)).toMatchObject({ ok: true, records: 25, chained: 25 });
  });

  it("keeps one chain when mints in several processes race each other", async () => {
    const home = tempHome();
    const path = join(home, "issued.jsonl");
    const env = { HOME: home, DATATOOLS_ISSUANCE_LOG: path };
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        spawnCli(["mint", "--name", `Proc ${i}`, "--email", `p${i}@example.com`], env),
      ),
    );
    expect(runs.map((r) => r.code)).toEqual(Array(6).fill(0));
    expect(check(path)).toMatchObject({ ok: true, records: 6, chained: 6 });
  });
});
