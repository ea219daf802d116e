// The app-side entry points and the buyer commands refuse a weak public key (KEY_WEAK) rather
// than trusting it, since with one anyone can sign a license it verifies.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  LicenseClient,
  assertProductionSafe,
  licensePath,
  loadLicense,
  toKeyRing,
} from "../../src/client/index.js";
import { runInProcess } from "../helpers/cli.js";
import { forgeBlob, smallOrderEncodings } from "../helpers/small-order.js";
import { codeOf, errorOf } from "../core/support.js";
import { NOW, VENDOR_PUB, tempHome } from "./support.js";

const WEAK = smallOrderEncodings().map((e) => e.hex);
const FORGED = { name: "Forged Buyer", email: "forged@example.com" };

describe("the client library with a weak key among its keys", () => {
  it("refuses it in toKeyRing, naming its position", () => {
    for (const hex of WEAK) {
      const err = errorOf(() => toKeyRing([VENDOR_PUB, hex]));
      expect(err.code).toBe("KEY_WEAK");
      expect(err.message).toMatch(/^public key 2 /);
    }
  });

  it("refuses it in loadLicense and new LicenseClient, so a forged license is never seen as active", () => {
    for (const hex of WEAK) {
      const home = tempHome();
      const options = { publicKeys: [hex], home, now: () => NOW };
      expect(codeOf(() => loadLicense(options))).toBe("KEY_WEAK");
      expect(codeOf(() => new LicenseClient(options))).toBe("KEY_WEAK");
      expect(existsSync(licensePath(home))).toBe(false);
    }
  });

  it("refuses it in assertProductionSafe in a production build", () => {
    for (const hex of WEAK) {
      expect(codeOf(() => assertProductionSafe([hex], { production: true }))).toBe("KEY_WEAK");
      expect(
        codeOf(() => assertProductionSafe([VENDOR_PUB, hex], { env: { NODE_ENV: "production" } })),
      ).toBe("KEY_WEAK");
    }
  });
});

describe("the buyer commands with a weak DATATOOLS_LICENSE_PUBKEY", () => {
  it("activate refuses with KEY_WEAK and stores nothing, for a forged license for that key", async () => {
    for (const hex of WEAK) {
      const home = tempHome();
      const r = await runInProcess(
        ["activate", forgeBlob(hex, FORGED), "--name", FORGED.name, "--email", FORGED.email],
        { home, env: { DATATOOLS_LICENSE_PUBKEY: hex }, now: NOW },
      );
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^dtlicense: DATATOOLS_LICENSE_PUBKEY .*\[KEY_WEAK\]\n$/);
      expect(existsSync(licensePath(home))).toBe(false);
    }
  });

  it("activate refuses a weak key in the ring file, too", async () => {
    const home = tempHome();
    const ring = join(home, "ring");
    writeFileSync(ring, `${VENDOR_PUB}\n${WEAK[0]}\n`);
    const r = await runInProcess(
      ["activate", forgeBlob(WEAK[0]!, FORGED), "--name", FORGED.name, "--email", FORGED.email],
      { home, env: { DATATOOLS_LICENSE_PUBKEY_FILE: ring }, now: NOW },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/DATATOOLS_LICENSE_PUBKEY_FILE \(.*\) \(key 2\) .*\[KEY_WEAK\]\n$/);
    expect(existsSync(licensePath(home))).toBe(false);
  });

  it("status and production start-up refuse with KEY_WEAK (exit 1)", async () => {
    for (const env of [
      { DATATOOLS_LICENSE_PUBKEY: WEAK[0]! },
      { DATATOOLS_LICENSE_PUBKEY: `${VENDOR_PUB} ${WEAK[1]!}`, NODE_ENV: "production" },
    ]) {
      const r = await runInProcess(["status"], { home: tempHome(), env, now: NOW });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/\[KEY_WEAK\]\n$/);
    }
  });
});
