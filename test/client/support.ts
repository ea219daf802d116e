// Shared set-up for the buyer-side tests: signers, minting at a chosen time, file helpers.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import {
  DEV_PRIVATE_KEY_HEX,
  encodeBlob,
  generateKeypair,
  importSigner,
  mintLicense,
  type LicensePayload,
  type MintInput,
  type Signer,
} from "../../src/core/index.js";
import { LicenseClient, licensePath, type ClientOptions } from "../../src/client/index.js";

export { tempHome } from "../helpers/cli.js";

export const NOW = new Date("2026-05-13T22:10:27Z");
export const DAY = 86_400_000;
export const ADA = { name: "Ada Lovelace", email: "ada@example.com" };

export const devSigner = importSigner(Buffer.from(DEV_PRIVATE_KEY_HEX, "hex"));
const vendorPair = generateKeypair();
/** A production-like vendor key that is not the development key. */
export const vendorSigner = importSigner(Buffer.from(vendorPair.privateKeyHex, "hex"));
export const VENDOR_PUB = vendorPair.publicKeyHex;
export const DEV_PUB = devSigner.publicKey.hex;

/** A blob for Ada (or `input`), issued at `at`, signed by `signer`. */
export function mint(
  input: Partial<MintInput> = {},
  at: Date = NOW,
  signer: Signer = devSigner,
): { blob: string; payload: LicensePayload } {
  return mintLicense({ ...ADA, ...input }, signer, at);
}

/** A blob with explicit payload fields (for expiry dates that whole years cannot give). */
export function sign(fields: Partial<LicensePayload>, signer: Signer = devSigner): string {
  return encodeBlob(
    {
      v: 2,
      kid: signer.kid,
      license_key: "DT1-CORE-00000000-00000000",
      name: ADA.name,
      email: ADA.email,
      tier: "core",
      issued_at: "2026-05-13T22:10:27Z",
      expires_at: "2027-05-13T22:10:27Z",
      ...fields,
    },
    signer,
  );
}

/** A client for `home` with a frozen clock; `clock.now` may be moved by the test. */
export function clientAt(
  home: string,
  clock: { now: Date },
  options: Partial<ClientOptions> = {},
): LicenseClient {
  return new LicenseClient({ publicKeys: [DEV_PUB], home, now: () => clock.now, ...options });
}

/** The license file's bytes, or undefined when it does not exist. */
export function fileBytes(home: string): Buffer | undefined {
  const path = licensePath(home);
  return existsSync(path) ? readFileSync(path) : undefined;
}

export function readRecord(home: string): Record<string, unknown> {
  return JSON.parse(readFileSync(licensePath(home), "utf8")) as Record<string, unknown>;
}

export function writeRecord(home: string, record: unknown): void {
  writeFileSync(licensePath(home), typeof record === "string" ? record : JSON.stringify(record));
}
