import { describe, expect, it } from "vitest";
import {
  KeyRing,
  mintLicense,
  importSigner,
  verifyBlob,
  DEV_PRIVATE_KEY_HEX,
} from "../src/core/index.js";

describe("the core", () => {
  it("verifies a blob it has just minted with the development key", () => {
    const signer = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
    const { blob } = mintLicense(
      { name: "Ada Lovelace", email: "ada@example.com" },
      signer,
      new Date("2026-05-13T22:10:27Z"),
    );
    const { payload } = verifyBlob(blob, new KeyRing([signer.publicKey]));
    expect(payload.tier).toBe("core");
    expect(payload.expires_at).toBe("2027-05-13T22:10:27Z");
  });
});
