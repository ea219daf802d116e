// A blob built by hand from docs/FORMAT.md and signed by another Ed25519 implementation
// (@noble/ed25519) activates; the same blob with any one character changed is refused and
// leaves the stored license byte for byte as it was.
import { createHash } from "node:crypto";
import * as ed from "@noble/ed25519";
import { describe, expect, it } from "vitest";
import { encodeBlob, importSigner } from "../../src/core/index.js";
import { runInProcess } from "../helpers/cli.js";
import { ADA, DEV_PUB, NOW, fileBytes, mint, readRecord, tempHome } from "./support.js";

ed.hashes.sha512 = (m) => new Uint8Array(createHash("sha512").update(m).digest());

const seed = new Uint8Array(
  createHash("sha256").update("foreign implementation test key").digest(),
);
const publicKey = ed.getPublicKey(seed);
const publicHex = Buffer.from(publicKey).toString("hex");
// The foreign key alone, or with the dev key that signed the "previous" license.
const foreignOnly = { DATATOOLS_LICENSE_PUBKEY: publicHex };
const env = { DATATOOLS_LICENSE_PUBKEY: `${publicHex},${DEV_PUB}` };

/** The blob, following the spec step by step with nothing from this package. */
function handMadeBlob(): string {
  const kid = createHash("sha256").update(publicKey).digest().subarray(0, 8).toString("hex");
  const payload = {
    v: 2,
    kid,
    license_key: "DT1-PRO-FOREIGN-0001",
    name: ADA.name,
    email: ADA.email,
    tier: "pro",
    issued_at: "2026-05-13T22:10:27Z",
    expires_at: "2027-05-13T22:10:27Z",
  };
  const b64u = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
  const signingInput = `DTLIC2:${b64u(Buffer.from(JSON.stringify(payload), "utf8"))}`;
  const signature = ed.sign(new Uint8Array(Buffer.from(signingInput, "ascii")), seed);
  return `${signingInput}.${b64u(signature)}`;
}

const B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BLOB_CODES = [
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

/** Every way of changing the character at `i` that this test tries. */
function changes(blob: string, i: number): string[] {
  const c = blob[i]!;
  const sameAlphabet = B64U[(B64U.indexOf(c) + 1) % B64U.length]!;
  const lowBit = String.fromCharCode(c.charCodeAt(0) ^ 1);
  return [...new Set([sameAlphabet, lowBit])]
    .filter((r) => r !== c)
    .map((r) => blob.slice(0, i) + r + blob.slice(i + 1));
}

describe("a blob from another Ed25519 implementation", () => {
  const blob = handMadeBlob();

  it("is byte for byte what this package's encoder makes for the same payload and key", () => {
    const signer = importSigner(seed);
    expect(signer.publicKey.hex).toBe(publicHex);
    const [body] = blob.slice("DTLIC2:".length).split(".");
    const payload = JSON.parse(Buffer.from(body!, "base64url").toString("utf8"));
    expect(encodeBlob(payload, signer)).toBe(blob);
  });

  it("is accepted by dtlicense activate and shown by status", async () => {
    const home = tempHome();
    const act = await runInProcess(["activate", blob, "--name", ADA.name, "--email", ADA.email], {
      home,
      env: foreignOnly,
      now: NOW,
    });
    expect(act.stderr).toBe("");
    expect(act.code).toBe(0);
    expect(readRecord(home).blob).toBe(blob);
    const status = await runInProcess(["status", "--json"], { home, env: foreignOnly, now: NOW });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      state: "active",
      license_key: "DT1-PRO-FOREIGN-0001",
      tier: "pro",
    });
  });

  it("with any one character changed is refused and leaves license.json untouched", async () => {
    const home = tempHome();
    const previous = mint();
    const first = await runInProcess(
      ["activate", previous.blob, "--name", ADA.name, "--email", ADA.email],
      { home, env, now: NOW },
    );
    expect(first.code).toBe(0);
    const before = fileBytes(home)!;
    let tried = 0;
    for (let i = 0; i < blob.length; i++) {
      for (const changed of changes(blob, i)) {
        // --force, so that a refusal can only come from the blob itself.
        const r = await runInProcess(
          ["activate", changed, "--name", ADA.name, "--email", ADA.email, "--force"],
          { home, env, now: NOW },
        );
        const code = /\[([A-Z_0-9]+)\]\n$/.exec(r.stderr)?.[1];
        expect(r.code, `position ${i}: ${changed}`).toBe(1);
        expect(BLOB_CODES, `position ${i}`).toContain(code);
        expect(fileBytes(home)!.equals(before), `position ${i}`).toBe(true);
        tried++;
      }
    }
    expect(tried).toBeGreaterThanOrEqual(blob.length);
  });
});
