import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  DEV_KEY_WARNING,
  PRIVKEY_VAR,
  PUBKEY_VAR,
  parsePublicKeyList,
  resolveKeys,
} from "../../src/config/keys.js";
import {
  DEV_KID,
  generateKeypair,
  importSigner,
  mintLicense,
  parseHexKey,
  verifyBlob,
} from "../../src/core/index.js";
import { codeOf, errorOf } from "./support.js";

const NOW = new Date("2026-05-13T22:10:27Z");
const OLD = generateKeypair(new Uint8Array(32).fill(1));
const NEW = generateKeypair(new Uint8Array(32).fill(2));
const OTHER = generateKeypair(new Uint8Array(32).fill(3));

function mintWith(privateKeyHex: string): string {
  const signer = importSigner(parseHexKey(privateKeyHex, "test key"));
  return mintLicense({ name: "Ada Lovelace", email: "ada@example.com" }, signer, NOW).blob;
}

function keyFile(content: string, mode: number): string {
  const dir = mkdtempSync(join(tmpdir(), "dtl-key-"));
  const path = join(dir, "signing.key");
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

describe("resolveKeys", () => {
  it("uses the development keypair, and says so, when nothing is set", () => {
    for (const env of [{}, { [PRIVKEY_VAR]: "", [PUBKEY_VAR]: "" }]) {
      const keys = resolveKeys(env);
      expect(keys.usingDevKey).toBe(true);
      expect(keys.signer?.kid).toBe(DEV_KID);
      expect(keys.ring.keys().map((k) => k.kid)).toEqual([DEV_KID]);
    }
    expect(DEV_KEY_WARNING).toContain(PRIVKEY_VAR);
    expect(DEV_KEY_WARNING).toContain(PUBKEY_VAR);
  });

  it("signs with PRIVKEY and trusts its public half when PUBKEY is not set", () => {
    const keys = resolveKeys({ [PRIVKEY_VAR]: NEW.privateKeyHex });
    expect(keys.usingDevKey).toBe(false);
    expect(keys.signer?.kid).toBe(NEW.kid);
    expect(keys.ring.keys().map((k) => k.kid)).toEqual([NEW.kid]);
    expect(verifyBlob(mintWith(NEW.privateKeyHex), keys.ring).payload.kid).toBe(NEW.kid);
  });

  it("only verifies when just PUBKEY is set", () => {
    const keys = resolveKeys({ [PUBKEY_VAR]: NEW.publicKeyHex });
    expect(keys.signer).toBeUndefined();
    expect(keys.usingDevKey).toBe(false);
    expect(keys.ring.has(NEW.kid)).toBe(true);
    expect(codeOf(() => verifyBlob(mintWith(OLD.privateKeyHex), keys.ring))).toBe("KEY_UNKNOWN");
  });

  it("refuses a PUBKEY that does not hold PRIVKEY's public key, naming PUBKEY", () => {
    const err = errorOf(() =>
      resolveKeys({ [PRIVKEY_VAR]: NEW.privateKeyHex, [PUBKEY_VAR]: OTHER.publicKeyHex }),
    );
    expect(err.code).toBe("KEY_MISMATCH");
    expect(err.message).toContain(PUBKEY_VAR);
    expect(err.message).not.toContain(NEW.privateKeyHex);
  });

  it("trusts every key of a rotated PUBKEY list, so licenses signed by the old key still verify", () => {
    const oldBlob = mintWith(OLD.privateKeyHex);
    const newBlob = mintWith(NEW.privateKeyHex);
    const lists = [
      `${NEW.publicKeyHex},${OLD.publicKeyHex}`,
      `${NEW.publicKeyHex}, ${OLD.publicKeyHex}`,
      `${NEW.publicKeyHex}\n${OLD.publicKeyHex}\n`,
      ` ${NEW.publicKeyHex}\t${OLD.publicKeyHex.toUpperCase()} `,
    ];
    for (const list of lists) {
      const keys = resolveKeys({ [PRIVKEY_VAR]: NEW.privateKeyHex, [PUBKEY_VAR]: list });
      expect(keys.signer?.kid).toBe(NEW.kid);
      expect(keys.ring.keys().map((k) => k.kid)).toEqual([NEW.kid, OLD.kid]);
      expect(verifyBlob(oldBlob, keys.ring).payload.kid).toBe(OLD.kid);
      expect(verifyBlob(newBlob, keys.ring).payload.kid).toBe(NEW.kid);
      expect(codeOf(() => verifyBlob(mintWith(OTHER.privateKeyHex), keys.ring))).toBe(
        "KEY_UNKNOWN",
      );
    }
  });

  it("accepts a private key whose public half is not the first of the list", () => {
    const keys = resolveKeys({
      [PRIVKEY_VAR]: OLD.privateKeyHex,
      [PUBKEY_VAR]: `${NEW.publicKeyHex},${OLD.publicKeyHex}`,
    });
    expect(keys.signer?.kid).toBe(OLD.kid);
  });

  it("refuses malformed keys with KEY_INVALID naming the variable", () => {
    const cases: [Record<string, string>, string][] = [
      [{ [PRIVKEY_VAR]: "xyz" }, PRIVKEY_VAR],
      [{ [PRIVKEY_VAR]: NEW.privateKeyHex.slice(1) }, PRIVKEY_VAR],
      [{ [PRIVKEY_VAR]: NEW.privateKeyHex + "00" }, PRIVKEY_VAR],
      [{ [PUBKEY_VAR]: "g".repeat(64) }, PUBKEY_VAR],
      [{ [PUBKEY_VAR]: NEW.publicKeyHex.slice(2) }, PUBKEY_VAR],
      [{ [PUBKEY_VAR]: `${NEW.publicKeyHex},abc` }, `${PUBKEY_VAR} (key 2)`],
      [{ [PUBKEY_VAR]: " , ,\n" }, PUBKEY_VAR],
    ];
    for (const [env, label] of cases) {
      const err = errorOf(() => resolveKeys(env));
      expect(err.code).toBe("KEY_INVALID");
      expect(err.message).toContain(label);
    }
  });

  it("reads PRIVKEY_FILE when only its owner can read it", () => {
    for (const mode of [0o600, 0o400]) {
      const path = keyFile(`${NEW.privateKeyHex}\n`, mode);
      const keys = resolveKeys({ [`${PRIVKEY_VAR}_FILE`]: path });
      expect(keys.signer?.kid).toBe(NEW.kid);
    }
  });

  it("refuses a PRIVKEY_FILE that group or others can read with FILE_INSECURE", () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      const path = keyFile(NEW.privateKeyHex, mode);
      const err = errorOf(() => resolveKeys({ [`${PRIVKEY_VAR}_FILE`]: path }));
      expect(err.code).toBe("FILE_INSECURE");
      expect(err.message).toContain(`${PRIVKEY_VAR}_FILE`);
      expect(err.message).toContain("chmod 600");
    }
  });

  it("refuses a PRIVKEY_FILE that does not exist with FILE_UNREADABLE", () => {
    const path = join(mkdtempSync(join(tmpdir(), "dtl-key-")), "missing.key");
    expect(codeOf(() => resolveKeys({ [`${PRIVKEY_VAR}_FILE`]: path }))).toBe("FILE_UNREADABLE");
  });

  it("names the file when its content is not a key", () => {
    const path = keyFile("not a key\n", 0o600);
    const err = errorOf(() => resolveKeys({ [`${PRIVKEY_VAR}_FILE`]: path }));
    expect(err.code).toBe("KEY_INVALID");
    expect(err.message).toContain(`${PRIVKEY_VAR}_FILE`);
    expect(err.message).toContain(path);
  });

  it("refuses PRIVKEY and PRIVKEY_FILE together with CONFIG_INVALID", () => {
    const path = keyFile(NEW.privateKeyHex, 0o600);
    const err = errorOf(() =>
      resolveKeys({ [PRIVKEY_VAR]: NEW.privateKeyHex, [`${PRIVKEY_VAR}_FILE`]: path }),
    );
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain(PRIVKEY_VAR);
  });

  it("checks PRIVKEY_FILE against PUBKEY like PRIVKEY", () => {
    const path = keyFile(NEW.privateKeyHex, 0o600);
    expect(
      codeOf(() =>
        resolveKeys({ [`${PRIVKEY_VAR}_FILE`]: path, [PUBKEY_VAR]: OTHER.publicKeyHex }),
      ),
    ).toBe("KEY_MISMATCH");
  });
});

describe("parsePublicKeyList", () => {
  it("keeps the listed order and labels a bad key by position only when there are several", () => {
    const keys = parsePublicKeyList(`${OLD.publicKeyHex} ${NEW.publicKeyHex}`, "PUB");
    expect(keys.map((k) => k.kid)).toEqual([OLD.kid, NEW.kid]);
    expect(errorOf(() => parsePublicKeyList("abc", "PUB")).message).toMatch(/^PUB is/);
  });
});

describe("resolveKeys with a ring file", () => {
  it("reads DATATOOLS_LICENSE_PUBKEY_FILE, ignoring # comments, and trusts every key in it", () => {
    const ring = keyFile(
      `# newest first\n${NEW.publicKeyHex}\n${OLD.publicKeyHex} # retired\n`,
      0o644,
    );
    const { ring: keys, signer } = resolveKeys({
      [`${PUBKEY_VAR}_FILE`]: ring,
      [PRIVKEY_VAR]: NEW.privateKeyHex,
    });
    expect(signer?.kid).toBe(NEW.kid);
    expect(keys.keys().map((k) => k.kid)).toEqual([NEW.kid, OLD.kid]);
    expect(verifyBlob(mintWith(OLD.privateKeyHex), keys).payload.kid).toBe(OLD.kid);
  });

  it("refuses DATATOOLS_LICENSE_PUBKEY and DATATOOLS_LICENSE_PUBKEY_FILE together", () => {
    const ring = keyFile(NEW.publicKeyHex, 0o644);
    expect(
      codeOf(() => resolveKeys({ [PUBKEY_VAR]: NEW.publicKeyHex, [`${PUBKEY_VAR}_FILE`]: ring })),
    ).toBe("CONFIG_INVALID");
  });

  it("names the ring file when it does not hold the signing key's public half", () => {
    const ring = keyFile(OTHER.publicKeyHex, 0o644);
    const err = errorOf(() =>
      resolveKeys({ [`${PUBKEY_VAR}_FILE`]: ring, [PRIVKEY_VAR]: NEW.privateKeyHex }),
    );
    expect(err.code).toBe("KEY_MISMATCH");
    expect(err.message).toContain(`${PUBKEY_VAR}_FILE (${ring})`);
  });

  it("reports a missing ring file as FILE_UNREADABLE", () => {
    expect(codeOf(() => resolveKeys({ [`${PUBKEY_VAR}_FILE`]: "/nonexistent/ring" }))).toBe(
      "FILE_UNREADABLE",
    );
  });
});
