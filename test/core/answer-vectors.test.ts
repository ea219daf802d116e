// The signed-answer test vectors printed in docs/FORMAT.md are what the code signs, and verify independently.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ANSWER_PREFIX,
  DEV_PRIVATE_KEY_HEX,
  DEV_PUBLIC_KEY_HEX,
  KeyRing,
  importSigner,
  signAnswer,
  verifyAnswer,
} from "../../src/core/index.js";
import { ROOT, noble } from "./support.js";

const ed = noble();
const FORMAT_MD = readFileSync(resolve(ROOT, "docs/FORMAT.md"), "utf8");

/** Each "Answer vector" of docs/FORMAT.md: its body (the first text block) and its header. */
function vectors(): { name: string; body: string; header: string }[] {
  const section = FORMAT_MD.slice(FORMAT_MD.indexOf("## Signed server answers"));
  return section
    .split(/^#### /m)
    .slice(1)
    .map((part) => {
      const blocks = [...part.matchAll(/^```text\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
      return {
        name: part.slice(0, part.indexOf("\n")),
        body: blocks[0]!.replace(/\n$/, ""),
        header: blocks[1]!.trim().replace(/^DTL-Signature: /, ""),
      };
    });
}

describe("the signed-answer vectors in docs/FORMAT.md", () => {
  const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));

  it("lists at least three vectors", () => {
    expect(vectors().length).toBeGreaterThanOrEqual(3);
  });

  for (const v of vectors()) {
    it(`gives the header the code signs and @noble/ed25519 accepts: ${v.name}`, () => {
      expect(signAnswer(signer, v.body)).toBe(v.header);
      expect(verifyAnswer(new KeyRing([signer.publicKey]), v.header, v.body)).toBe(signer.kid);
      const sig = Buffer.from(v.header.split(";sig=")[1]!, "base64url");
      const message = new Uint8Array(Buffer.from(ANSWER_PREFIX + v.body, "utf8"));
      const key = new Uint8Array(Buffer.from(DEV_PUBLIC_KEY_HEX, "hex"));
      expect(ed.verify(new Uint8Array(sig), message, key)).toBe(true);
    });
  }
});
