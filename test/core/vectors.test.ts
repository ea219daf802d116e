import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BLOB_PREFIX,
  DEV_KID,
  DEV_PRIVATE_KEY_HEX,
  DEV_PUBLIC_KEY_HEX,
  DEV_SEED_TEXT,
  ERROR_CODES,
  MAX_BLOB_LENGTH,
  importSigner,
  keyId,
  verifyBlob,
} from "../../src/core/index.js";
import {
  ROOT,
  VECTORS_PATH,
  ascii,
  bytes,
  codeOf,
  detailedVectors,
  loadVectors,
  noble,
  vectorRing,
} from "./support.js";

const file = loadVectors();
const ring = vectorRing(file);
const ed = noble();
const FORMAT_MD = readFileSync(join(ROOT, "docs/FORMAT.md"), "utf8");

/** The fenced code blocks of a Markdown text with the given info string. */
function codeBlocks(markdown: string, lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm");
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) out.push(m[1]!);
  return out;
}

function hasPythonCryptography(): boolean {
  const r = spawnSync("python3", [
    "-c",
    "import cryptography.hazmat.primitives.asymmetric.ed25519",
  ]);
  return r.status === 0;
}

describe("the DTLIC2 vector file", () => {
  it("is exactly what scripts/make-vectors.mjs produces from the current code", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/make-vectors.mjs"), "--stdout"], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(VECTORS_PATH, "utf8"));
  });

  it("covers every reader error code and lists only codes that exist", () => {
    const readerCodes = [
      "BLOB_EMPTY",
      "BLOB_TOO_LARGE",
      "BLOB_V1_UNSUPPORTED",
      "BLOB_PREFIX_UNKNOWN",
      "BLOB_MALFORMED",
      "BLOB_ENCODING",
      "PAYLOAD_NOT_JSON",
      "PAYLOAD_NOT_OBJECT",
      "PAYLOAD_VERSION",
      "PAYLOAD_FIELD",
      "KEY_UNKNOWN",
      "SIGNATURE_INVALID",
    ];
    const listed = new Set(file.invalid.map((v) => v.error));
    expect([...listed].sort()).toEqual([...readerCodes].sort());
    for (const code of listed) expect(ERROR_CODES).toHaveProperty(code);
    expect(file.max_blob_length).toBe(MAX_BLOB_LENGTH);
  });

  it("has unique vector names", () => {
    const names = [...file.valid, ...file.invalid].map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it("lists the dev key as SHA-256 of DEV_SEED_TEXT with the constants' public key and kid", () => {
    const dev = file.keys.find((k) => k.name === "dev")!;
    expect(dev.seed_text).toBe(DEV_SEED_TEXT);
    expect(dev.seed_hex).toBe(createHash("sha256").update(DEV_SEED_TEXT, "utf8").digest("hex"));
    expect(dev.seed_hex).toBe(DEV_PRIVATE_KEY_HEX);
    expect(dev.public_key_hex).toBe(DEV_PUBLIC_KEY_HEX);
    expect(dev.kid).toBe(DEV_KID);
  });

  it("derives every key's public key and kid from its seed, by node:crypto and by noble", () => {
    for (const k of file.keys) {
      if (k.seed_text !== undefined) {
        expect(k.seed_hex).toBe(createHash("sha256").update(k.seed_text, "utf8").digest("hex"));
      }
      expect(importSigner(bytes(k.seed_hex)).publicKey.hex).toBe(k.public_key_hex);
      expect(Buffer.from(ed.getPublicKey(bytes(k.seed_hex))).toString("hex")).toBe(
        k.public_key_hex,
      );
      const digest = createHash("sha256").update(bytes(k.public_key_hex)).digest("hex");
      expect(k.kid).toBe(digest.slice(0, 16));
      expect(keyId(bytes(k.public_key_hex))).toBe(k.kid);
    }
  });
});

describe("valid DTLIC2 vectors", () => {
  it("has at least one detailed vector per trusted key", () => {
    const keysUsed = new Set(detailedVectors(file).map((v) => v.key));
    for (const k of file.keys.filter((k) => k.trusted)) expect(keysUsed).toContain(k.name);
  });

  for (const v of file.valid) {
    it(`accepts: ${v.name}`, () => {
      const verified = verifyBlob(v.input, ring);
      expect(verified.blob).toBe(v.blob);
      expect(verified.payload).toEqual(v.payload);
    });
  }

  for (const v of detailedVectors(file)) {
    it(`has consistent intermediate values: ${v.name}`, () => {
      const key = file.keys.find((k) => k.name === v.key)!;
      expect([v.seed_hex, v.public_key_hex, v.kid]).toEqual([
        key.seed_hex,
        key.public_key_hex,
        key.kid,
      ]);
      expect(Buffer.from(v.payload_b64u, "base64url").toString("utf8")).toBe(v.payload_json);
      expect(JSON.parse(v.payload_json)).toEqual(v.payload);
      expect(v.payload.kid).toBe(v.kid);
      expect(v.signing_input).toBe(BLOB_PREFIX + v.payload_b64u);
      expect(Buffer.from(v.signature_b64u, "base64url").toString("hex")).toBe(v.signature_hex);
      expect(v.blob).toBe(`${v.signing_input}.${v.signature_b64u}`);
    });

    it(`is re-signed to the same bytes and verified by @noble/ed25519: ${v.name}`, () => {
      const signature = ed.sign(ascii(v.signing_input), bytes(v.seed_hex));
      expect(Buffer.from(signature).toString("hex")).toBe(v.signature_hex);
      const sig = bytes(v.signature_hex);
      const pub = bytes(v.public_key_hex);
      expect(ed.verify(sig, ascii(v.signing_input), pub, { zip215: false })).toBe(true);
      expect(ed.verify(sig, ascii(v.signing_input + "x"), pub, { zip215: false })).toBe(false);
    });

    it(`appears verbatim in docs/FORMAT.md: ${v.name}`, () => {
      // The first two vectors are printed in full; the others by their blob.
      const inFull = detailedVectors(file).indexOf(v) < 2;
      const values = inFull
        ? [v.seed_hex, v.public_key_hex, v.kid, v.payload_json, v.signing_input, v.signature_hex]
        : [];
      for (const value of [...values, v.blob]) expect(FORMAT_MD).toContain(value);
    });
  }
});

describe("invalid DTLIC2 vectors", () => {
  for (const v of file.invalid) {
    it(`refuses with ${v.error}: ${v.name}`, () => {
      expect(codeOf(() => verifyBlob(v.input, ring))).toBe(v.error);
    });
  }
});

describe("the checks docs/FORMAT.md shows", () => {
  it("has a Python example and an @noble/ed25519 example", () => {
    expect(codeBlocks(FORMAT_MD, "python").length).toBeGreaterThanOrEqual(2);
    expect(codeBlocks(FORMAT_MD, "js").some((b) => b.includes("@noble/ed25519"))).toBe(true);
  });

  it.skipIf(!hasPythonCryptography())(
    "runs each Python example against the vector file (python3 with cryptography)",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "dtl-py-"));
      for (const [i, block] of codeBlocks(FORMAT_MD, "python").entries()) {
        const script = join(dir, `example${i}.py`);
        writeFileSync(script, block);
        const r = spawnSync("python3", [script, VECTORS_PATH], { cwd: ROOT, encoding: "utf8" });
        expect({ example: i, status: r.status, stderr: r.stderr }).toEqual({
          example: i,
          status: 0,
          stderr: "",
        });
      }
    },
  );

  it("runs the @noble/ed25519 example", () => {
    const blocks = codeBlocks(FORMAT_MD, "js").filter((b) => b.includes("@noble/ed25519"));
    for (const block of blocks) {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", block], {
        cwd: ROOT,
        encoding: "utf8",
      });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    }
  });
});
