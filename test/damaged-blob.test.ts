// A blob damaged while copying (a changed, added or lost character) is refused with a message
// that tells the buyer to copy it again whole, whatever check it fails before the signature;
// only PAYLOAD_VERSION suggests a newer DataTools.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KeyRing, LicenseError, verifyBlob } from "../src/core/index.js";
import { runInProcess, tempHome } from "./helpers/cli.js";
import { ADA, NOW, devSigner, fileBytes, mint, sign } from "./client/support.js";
import { ROOT } from "./core/support.js";

const ring = new KeyRing([devSigner.publicKey]);
const B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DAMAGED = ["BLOB_MALFORMED", "BLOB_ENCODING", "PAYLOAD_NOT_JSON", "PAYLOAD_NOT_OBJECT"];
const COPY_AGAIN =
  /damaged or incomplete.*copy it again, whole, from the purchase e-mail.*from DTLIC2: to the end/;

function refusal(blob: string): LicenseError {
  try {
    verifyBlob(blob, ring);
  } catch (err) {
    if (err instanceof LicenseError) return err;
    throw err;
  }
  throw new Error("accepted");
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");

describe("a blob with one character changed in its payload", () => {
  const { blob } = mint();
  const dot = blob.indexOf(".");

  it("is refused, and every refusal before the signature says to copy it again whole", () => {
    const seen = new Set<string>();
    for (let i = "DTLIC2:".length; i < dot; i++) {
      const c = blob[i]!;
      for (const replacement of [B64U[(B64U.indexOf(c) + 1) % 64]!, "*"]) {
        const err = refusal(blob.slice(0, i) + replacement + blob.slice(i + 1));
        seen.add(err.code);
        // A changed payload never gets past the signature, so PAYLOAD_FIELD here is the kid's.
        if (DAMAGED.includes(err.code) || err.code === "PAYLOAD_FIELD") {
          expect(err.message, `${err.code} at ${i}`).toMatch(COPY_AGAIN);
          expect(err.message).not.toMatch(/newer/);
        }
        if (err.code === "PAYLOAD_VERSION") expect(err.message).toMatch(/copy it again/);
      }
    }
    expect([...seen]).toEqual(
      expect.arrayContaining(["BLOB_ENCODING", "PAYLOAD_NOT_JSON", "SIGNATURE_INVALID"]),
    );
  });

  it("makes dtlicense activate say to copy it again, and changes nothing", async () => {
    // The first payload character: {"v":2,… becomes something that is not JSON.
    const i = "DTLIC2:".length;
    const damaged = blob.slice(0, i) + (blob[i] === "f" ? "g" : "f") + blob.slice(i + 1);
    expect(refusal(damaged).code).toBe("PAYLOAD_NOT_JSON");
    const home = tempHome();
    const r = await runInProcess(["activate", damaged, "--name", ADA.name, "--email", ADA.email], {
      home,
      now: NOW,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(COPY_AGAIN);
    expect(r.stderr).not.toMatch(/newer DataTools/);
    expect(r.stderr).toMatch(/\[PAYLOAD_NOT_JSON\]\n$/);
    expect(fileBytes(home)).toBeUndefined();
  });
});

describe("the refusals before the signature", () => {
  const { blob } = mint();
  const [signingInput, signature] = blob.split(".") as [string, string];
  const cases: [string, string, string][] = [
    ["cut off before the signature", signingInput, "BLOB_MALFORMED"],
    ["cut off inside the signature", blob.slice(0, -10), "BLOB_MALFORMED"],
    ["with a second dot", `${blob}.x`, "BLOB_MALFORMED"],
    ["with a character that is not base64url", `${signingInput}*.${signature}`, "BLOB_ENCODING"],
    ["whose payload is not JSON", `DTLIC2:${b64("{nope")}.${signature}`, "PAYLOAD_NOT_JSON"],
    ["whose payload is not an object", `DTLIC2:${b64("[2]")}.${signature}`, "PAYLOAD_NOT_OBJECT"],
    [
      "whose kid is malformed",
      `DTLIC2:${b64('{"v":2,"kid":"xyz"}')}.${signature}`,
      "PAYLOAD_FIELD",
    ],
  ];
  for (const [what, text, code] of cases) {
    it(`say the license text is damaged and to copy it again whole: a blob ${what} (${code})`, () => {
      const err = refusal(text);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(COPY_AGAIN);
      expect(err.message).not.toMatch(/newer/);
    });
  }

  it("PAYLOAD_VERSION says to copy it again, then that a newer DataTools may be needed", () => {
    const err = refusal(`DTLIC2:${b64('{"v":3}')}.${signature}`);
    expect(err.code).toBe("PAYLOAD_VERSION");
    expect(err.message).toMatch(/copy it again/);
    expect(err.message).toMatch(/newer DataTools/);
  });

  it("a genuinely signed license with a malformed field says to ask the vendor, not to copy it", () => {
    const err = refusal(sign({ tier: "gold" as "pro" }));
    expect(err.code).toBe("PAYLOAD_FIELD");
    expect(err.message).toMatch(/ask the vendor/);
  });
});

describe("the USER-GUIDE error table", () => {
  const guide = readFileSync(join(ROOT, "docs/USER-GUIDE.md"), "utf8");
  const row = (code: string) =>
    guide.split("\n").find((l) => l.startsWith("|") && l.includes(`\`${code}\``))!;

  it("tells the buyer to copy a damaged blob again whole, and only for PAYLOAD_VERSION of a newer DataTools", () => {
    for (const code of [...DAMAGED, "PAYLOAD_FIELD"]) {
      expect(row(code), code).toMatch(/copy it again, whole/i);
      expect(row(code), code).toContain("`DTLIC2:` to the end");
      expect(row(code), code).not.toMatch(/newer/);
    }
    expect(row("PAYLOAD_VERSION")).toMatch(/newer DataTools/);
  });
});
