// scripts/build-binary.mjs checks DATATOOLS_LICENSE_PUBKEY with the same parser the commands use,
// so a malformed or weak key fails the build (quickly: before anything is bundled).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nonCanonicalEncodings, smallOrderEncodings } from "./helpers/small-order.js";
import { VENDOR_PUB } from "./client/support.js";

const SCRIPT = resolve(import.meta.dirname, "../scripts/build-binary.mjs");
const work = mkdtempSync(join(tmpdir(), "dtl-binary-keys-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function runBuild(out: string, pubkey: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, DATATOOLS_LICENSE_PUBKEY: pubkey };
  delete env.DATATOOLS_CATALOGUE;
  return spawnSync(process.execPath, [SCRIPT, "--out", out], { env, encoding: "utf8" });
}

describe("building the binary with a bad DATATOOLS_LICENSE_PUBKEY", () => {
  it("fails with KEY_WEAK, writing no binary, for a small-order or non-canonical key", () => {
    // core/weak-keys.test.ts tries every weak key on the parser; here, one of each kind shows
    // that the build runs it. Each build fails before bundling the binary, but still takes a second.
    const order8 = smallOrderEncodings().find((e) => e.why === "[1]T")!.hex;
    const xZeroSign = smallOrderEncodings().find((e) => e.why === "x = 0, sign bit set")!.hex;
    const cases: [string, string][] = [
      ["0".repeat(64), "DATATOOLS_LICENSE_PUBKEY"],
      [`${VENDOR_PUB},${order8}`, "DATATOOLS_LICENSE_PUBKEY \\(key 2\\)"],
      [`${xZeroSign} ${VENDOR_PUB}`, "DATATOOLS_LICENSE_PUBKEY \\(key 1\\)"],
      [nonCanonicalEncodings()[7]!, "DATATOOLS_LICENSE_PUBKEY"],
    ];
    for (const [i, [pubkey, label]] of cases.entries()) {
      const out = join(work, `weak-${i}`);
      const r = runBuild(out, pubkey);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^build-binary: ${label} .*\\[KEY_WEAK\\]\\n$`));
      expect(r.stdout).toBe("");
      expect(existsSync(out)).toBe(false);
    }
  }, 120_000);

  it("fails with KEY_INVALID, writing no binary, for a key that is not 64 hex characters", () => {
    const out = join(work, "malformed");
    const r = runBuild(out, `${VENDOR_PUB} ${VENDOR_PUB.slice(1)}`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^build-binary: DATATOOLS_LICENSE_PUBKEY \(key 2\) is 63 characters long.*\[KEY_INVALID\]\n$/,
    );
    expect(existsSync(out)).toBe(false);
  }, 30_000);
});
