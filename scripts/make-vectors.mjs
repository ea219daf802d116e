// Regenerates test/vectors/dtlic2-vectors.json from fixed seeds (Ed25519 is deterministic,
// so the output is byte-for-byte stable). Run `npm run build` first; it imports dist/.
//   node scripts/make-vectors.mjs            write the file
//   node scripts/make-vectors.mjs --stdout   print what would be written
//   node scripts/make-vectors.mjs --check    exit 1 when the file is out of date
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  BLOB_PREFIX,
  DEV_KID,
  DEV_PRIVATE_KEY_HEX,
  DEV_PUBLIC_KEY_HEX,
  DEV_SEED_TEXT,
  MAX_BLOB_LENGTH,
  KeyRing,
  V1_PREFIX,
  b64uEncode,
  encodeBlob,
  importSigner,
  mintLicense,
  verifyBlob,
} from "../dist/core/index.js";

const OUT = fileURLToPath(new URL("../test/vectors/dtlic2-vectors.json", import.meta.url));

const sha256 = (text) => createHash("sha256").update(text, "utf8").digest();
const b64u = (bytes) => b64uEncode(bytes);

// The three keys of the vector set. The second is RFC 8032 section 7.1 TEST 1, so an
// implementer can also check key derivation against the RFC's published public key.
const KEYS = [
  { name: "dev", seed_text: DEV_SEED_TEXT, seed: sha256(DEV_SEED_TEXT), trusted: true },
  {
    name: "rfc8032-test1",
    seed_text: null,
    seed: Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex"),
    trusted: true,
  },
  {
    name: "untrusted",
    seed_text: "datatools-license test vectors: untrusted key",
    seed: sha256("datatools-license test vectors: untrusted key"),
    trusted: false,
  },
].map((k) => ({ ...k, signer: importSigner(k.seed) }));

const key = (name) => KEYS.find((k) => k.name === name);
const dev = key("dev").signer;
const rfc = key("rfc8032-test1").signer;
const untrusted = key("untrusted").signer;

if (dev.kid !== DEV_KID || dev.publicKey.hex !== DEV_PUBLIC_KEY_HEX) {
  throw new Error("the dev key constants do not match SHA-256 of DEV_SEED_TEXT");
}
if (key("dev").seed.toString("hex") !== DEV_PRIVATE_KEY_HEX) {
  throw new Error("DEV_PRIVATE_KEY_HEX is not SHA-256 of DEV_SEED_TEXT");
}
if (rfc.publicKey.hex !== "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a") {
  throw new Error("the RFC 8032 TEST 1 public key does not match the RFC");
}

const ring = new KeyRing(KEYS.filter((k) => k.trusted).map((k) => k.signer.publicKey));

/** The construction of the spec, written out: sign the ASCII of prefix + b64u(payload). */
function signBytes(signer, payloadBytes) {
  const signingInput = BLOB_PREFIX + b64u(payloadBytes);
  return `${signingInput}.${b64u(signer.sign(Buffer.from(signingInput, "ascii")))}`;
}
const signJson = (signer, value) => signBytes(signer, Buffer.from(JSON.stringify(value), "utf8"));

const BASE = {
  v: 2,
  kid: DEV_KID,
  license_key: "DT1-CORE-5dd8e1db-d90c4656",
  name: "Ada Lovelace",
  email: "ada@example.com",
  tier: "core",
  issued_at: "2026-05-13T22:10:27Z",
  expires_at: "2027-05-13T22:10:27Z",
};
/** BASE with some fields replaced; a value of undefined removes the field. */
function payloadWith(changes) {
  const out = { ...BASE, ...changes };
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete out[k];
  return out;
}

// ---- valid vectors -------------------------------------------------------------------------

function detailed(name, keyName, minted) {
  const { signer } = key(keyName);
  const dot = minted.blob.indexOf(".");
  const signingInput = minted.blob.slice(0, dot);
  const payloadB64u = signingInput.slice(BLOB_PREFIX.length);
  const payloadJson = Buffer.from(payloadB64u, "base64url").toString("utf8");
  const signature = Buffer.from(minted.blob.slice(dot + 1), "base64url");
  if (signJson(signer, JSON.parse(payloadJson)) !== minted.blob) {
    throw new Error(`${name}: encodeBlob does not follow the written-out construction`);
  }
  return {
    name,
    key: keyName,
    seed_hex: key(keyName).seed.toString("hex"),
    public_key_hex: signer.publicKey.hex,
    kid: signer.kid,
    payload_json: payloadJson,
    payload_b64u: payloadB64u,
    signing_input: signingInput,
    signature_hex: signature.toString("hex"),
    signature_b64u: minted.blob.slice(dot + 1),
    input: minted.blob,
    blob: minted.blob,
    payload: minted.payload,
  };
}

const mainVectors = [
  detailed(
    "core license signed by the dev key",
    "dev",
    mintLicense(
      {
        name: BASE.name,
        email: BASE.email,
        tier: "core",
        years: 1,
        licenseKey: BASE.license_key,
      },
      dev,
      new Date("2026-05-13T22:10:27.480Z"),
    ),
  ),
  detailed(
    "pro license with a non-ASCII name signed by the RFC 8032 TEST 1 key",
    "rfc8032-test1",
    mintLicense(
      {
        name: "Zoë Ångström-Müller",
        email: "ops@acme.example",
        tier: "pro",
        years: 3,
        licenseKey: "DT1-PRO-ACME-2026",
      },
      rfc,
      new Date("2026-01-31T08:00:00Z"),
    ),
  ),
  detailed(
    "lite license issued on 29 February, expiring on 1 March",
    "dev",
    mintLicense(
      {
        name: "Grace Hopper",
        email: "grace@navy.example",
        tier: "lite",
        years: 1,
        licenseKey: "DT1-LITE-0badc0de-00c0ffee",
      },
      dev,
      new Date("2028-02-29T12:00:00Z"),
    ),
  ),
];

const devBlob = mainVectors[0].blob;
const devSigningInput = mainVectors[0].signing_input;
const devSignature = Buffer.from(mainVectors[0].signature_hex, "hex");
const devPayloadB64u = mainVectors[0].payload_b64u;

function wrapLines(text, width, eol) {
  const lines = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines.join(eol);
}

/** A dev-signed blob of exactly `length` characters, the name padded to reach it. */
function blobOfLength(length) {
  for (let pad = 0; pad < 4 * MAX_BLOB_LENGTH; pad++) {
    const blob = signJson(dev, payloadWith({ name: "Ada " + "L".repeat(pad) }));
    if (blob.length === length) return blob;
    if (blob.length > length) break;
  }
  throw new Error(`no blob of exactly ${length} characters`);
}

const otherValid = [
  {
    name: "unknown fields are ignored",
    input: signJson(dev, { ...BASE, seats: 5, features: ["x"], note: { by: "sales" } }),
  },
  {
    name: "field order and JSON whitespace are free; the signed bytes are what counts",
    input: signBytes(
      dev,
      Buffer.from(
        JSON.stringify(
          {
            expires_at: BASE.expires_at,
            tier: BASE.tier,
            email: BASE.email,
            name: BASE.name,
            license_key: BASE.license_key,
            issued_at: BASE.issued_at,
            kid: BASE.kid,
            v: 2,
          },
          null,
          2,
        ),
        "utf8",
      ),
    ),
  },
  {
    name: "surrounded by whitespace and broken into e-mail lines",
    input: `\r\n   ${wrapLines(devBlob, 76, "\r\n")}\r\n\t \n`,
  },
  {
    name: "line breaks and spaces inside the prefix and around the dot",
    input: devBlob.replace("DTLIC2:", "DTL\nIC2 :").replace(".", " \n.\n "),
  },
  {
    name: `a blob of exactly ${MAX_BLOB_LENGTH} characters (the cap)`,
    input: blobOfLength(MAX_BLOB_LENGTH),
  },
].map((v) => {
  const { blob, payload } = verifyBlob(v.input, ring);
  return { ...v, blob, payload };
});

// ---- invalid vectors -----------------------------------------------------------------------

/** Replaces the character at `index` (negative counts from the end). */
function replaceAt(text, index, ch) {
  const i = index < 0 ? text.length + index : index;
  return text.slice(0, i) + ch + text.slice(i + 1);
}
const B64U_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** The last character with its unused low bits set (non-canonical, same bytes). */
function nonCanonicalLast(b64) {
  const unusedBits = { 2: 4, 3: 2 }[b64.length % 4];
  if (!unusedBits) throw new Error("this length has no unused bits");
  const last = B64U_ALPHABET.indexOf(b64[b64.length - 1]);
  return replaceAt(b64, -1, B64U_ALPHABET[last | 1]);
}
/** A signed blob whose payload text ends in a non-canonical character, then re-signed. */
function nonCanonicalPayloadBlob() {
  for (let pad = 0; pad < 3; pad++) {
    const payloadB64u = b64u(
      Buffer.from(JSON.stringify(payloadWith({ name: "Ada" + " ".repeat(pad) }))),
    );
    if (payloadB64u.length % 4 === 0) continue;
    const signingInput = BLOB_PREFIX + nonCanonicalLast(payloadB64u);
    return `${signingInput}.${b64u(dev.sign(Buffer.from(signingInput, "ascii")))}`;
  }
  throw new Error("unreachable");
}
const sigOfLength = (n) => b64u(Buffer.concat([devSignature, devSignature]).subarray(0, n));
const withPayloadBytes = (bytes) => signBytes(dev, bytes);

const invalid = [
  // size and prefix
  ["empty text", "", "BLOB_EMPTY"],
  ["only whitespace and line breaks", " \r\n\t \n", "BLOB_EMPTY"],
  [
    "a DTLIC1 (HMAC) blob",
    `${V1_PREFIX}${b64u(Buffer.from(JSON.stringify({ v: 1, license_key: "DT1-CORE-00000000-00000000", name: "Ada Lovelace", email: "ada@example.com", tier: "core" })))}.${b64u(sha256("hmac"))}`,
    "BLOB_V1_UNSUPPORTED",
  ],
  ["a DTLIC1 prefix with nothing after it", "DTLIC1:", "BLOB_V1_UNSUPPORTED"],
  ["a DTLIC3 prefix", replaceAt(devBlob, 5, "3"), "BLOB_PREFIX_UNKNOWN"],
  ["a lower-case prefix", devBlob.replace("DTLIC2:", "dtlic2:"), "BLOB_PREFIX_UNKNOWN"],
  ["no prefix", devBlob.slice(BLOB_PREFIX.length), "BLOB_PREFIX_UNKNOWN"],
  ["the prefix without its colon", devBlob.replace("DTLIC2:", "DTLIC2"), "BLOB_PREFIX_UNKNOWN"],
  ["text that is not a license", "Thank you for your purchase!", "BLOB_PREFIX_UNKNOWN"],
  [
    `a genuinely signed blob of ${MAX_BLOB_LENGTH + 1} characters`,
    blobOfLength(MAX_BLOB_LENGTH + 1),
    "BLOB_TOO_LARGE",
  ],
  // shape
  ["the prefix alone", "DTLIC2:", "BLOB_MALFORMED"],
  ["no dot", devSigningInput + mainVectors[0].signature_b64u, "BLOB_MALFORMED"],
  ["two dots", `${devBlob}.AAAA`, "BLOB_MALFORMED"],
  ["a dot inside the payload", replaceAt(devBlob, 20, "."), "BLOB_MALFORMED"],
  // base64url
  ["a '+' in the payload", replaceAt(devBlob, 20, "+"), "BLOB_ENCODING"],
  ["a '/' in the signature", replaceAt(devBlob, -10, "/"), "BLOB_ENCODING"],
  ["a non-ASCII letter in the payload", replaceAt(devBlob, 20, "é"), "BLOB_ENCODING"],
  [
    "'=' padding on the payload",
    `${BLOB_PREFIX}${devPayloadB64u}${devPayloadB64u.length % 4 === 0 ? "=" : "=".repeat(4 - (devPayloadB64u.length % 4))}.${mainVectors[0].signature_b64u}`,
    "BLOB_ENCODING",
  ],
  ["'==' padding on the signature", `${devBlob}==`, "BLOB_ENCODING"],
  [
    "the signature's last character has non-zero unused bits (same bytes, re-encoded)",
    `${devSigningInput}.${nonCanonicalLast(mainVectors[0].signature_b64u)}`,
    "BLOB_ENCODING",
  ],
  [
    "the payload's last character has non-zero unused bits (the signature covers that text)",
    nonCanonicalPayloadBlob(),
    "BLOB_ENCODING",
  ],
  [
    "a payload of a length no base64 text has (1 mod 4)",
    `${BLOB_PREFIX}${devPayloadB64u.slice(0, devPayloadB64u.length - (devPayloadB64u.length % 4) - 3)}.${mainVectors[0].signature_b64u}`,
    "BLOB_ENCODING",
  ],
  // signature length
  ["an empty signature", `${devSigningInput}.`, "BLOB_MALFORMED"],
  ["a 63-byte signature", `${devSigningInput}.${sigOfLength(63)}`, "BLOB_MALFORMED"],
  ["a 65-byte signature", `${devSigningInput}.${sigOfLength(65)}`, "BLOB_MALFORMED"],
  // payload JSON
  [
    "a signed payload that is not JSON",
    withPayloadBytes(Buffer.from("not json")),
    "PAYLOAD_NOT_JSON",
  ],
  ["a signed empty payload", withPayloadBytes(Buffer.alloc(0)), "PAYLOAD_NOT_JSON"],
  [
    "a signed payload that is not valid UTF-8",
    withPayloadBytes(
      Buffer.concat([
        Buffer.from(JSON.stringify(BASE).slice(0, -1) + ',"x":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]),
    ),
    "PAYLOAD_NOT_JSON",
  ],
  [
    "a signed payload starting with a UTF-8 byte order mark",
    withPayloadBytes(
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(BASE))]),
    ),
    "PAYLOAD_NOT_JSON",
  ],
  [
    "a signed payload using NaN, which JavaScript allows but JSON does not",
    withPayloadBytes(Buffer.from(JSON.stringify(BASE).slice(0, -1) + ',"seats":NaN}')),
    "PAYLOAD_NOT_JSON",
  ],
  ["a signed JSON array", signJson(dev, [BASE]), "PAYLOAD_NOT_OBJECT"],
  ["a signed JSON string", signJson(dev, "DT1-CORE-5dd8e1db-d90c4656"), "PAYLOAD_NOT_OBJECT"],
  ["a signed JSON null", signJson(dev, null), "PAYLOAD_NOT_OBJECT"],
  ["a signed JSON number", signJson(dev, 2), "PAYLOAD_NOT_OBJECT"],
  // version
  ["v missing", signJson(dev, payloadWith({ v: undefined })), "PAYLOAD_VERSION"],
  ["v is 1", signJson(dev, payloadWith({ v: 1 })), "PAYLOAD_VERSION"],
  ["v is 3", signJson(dev, payloadWith({ v: 3 })), "PAYLOAD_VERSION"],
  ['v is the string "2"', signJson(dev, payloadWith({ v: "2" })), "PAYLOAD_VERSION"],
  ["v is null", signJson(dev, payloadWith({ v: null })), "PAYLOAD_VERSION"],
  // kid
  ["kid missing", signJson(dev, payloadWith({ kid: undefined })), "PAYLOAD_FIELD"],
  [
    "kid in upper case",
    signJson(dev, payloadWith({ kid: DEV_KID.toUpperCase() })),
    "PAYLOAD_FIELD",
  ],
  [
    "kid of 15 characters",
    signJson(dev, payloadWith({ kid: DEV_KID.slice(0, 15) })),
    "PAYLOAD_FIELD",
  ],
  ["kid of 17 characters", signJson(dev, payloadWith({ kid: DEV_KID + "0" })), "PAYLOAD_FIELD"],
  [
    "kid with a non-hex character",
    signJson(dev, payloadWith({ kid: DEV_KID.slice(0, 15) + "g" })),
    "PAYLOAD_FIELD",
  ],
  ["kid is a number", signJson(dev, payloadWith({ kid: 1234567890123456 })), "PAYLOAD_FIELD"],
  [
    "kid of a key that is not trusted (signed by that key)",
    signJson(untrusted, payloadWith({ kid: untrusted.kid })),
    "KEY_UNKNOWN",
  ],
  // signature
  [
    "tier changed from core to pro after signing",
    `${BLOB_PREFIX}${b64u(Buffer.from(JSON.stringify(payloadWith({ tier: "pro" }))))}.${mainVectors[0].signature_b64u}`,
    "SIGNATURE_INVALID",
  ],
  [
    "one bit of the signature flipped",
    `${devSigningInput}.${b64u(Buffer.from(devSignature.map((b, i) => (i === 0 ? b ^ 1 : b))))}`,
    "SIGNATURE_INVALID",
  ],
  [
    "a trusted key's kid, signed by an untrusted key",
    signJson(untrusted, BASE),
    "SIGNATURE_INVALID",
  ],
  ["the dev key's kid, signed by the other trusted key", signJson(rfc, BASE), "SIGNATURE_INVALID"],
  [
    "signed over the payload bytes only, without the prefix",
    `${devSigningInput}.${b64u(dev.sign(Buffer.from(JSON.stringify(BASE), "utf8")))}`,
    "SIGNATURE_INVALID",
  ],
  [
    "signed over the payload's base64url text only, without the prefix",
    `${devSigningInput}.${b64u(dev.sign(Buffer.from(devPayloadB64u, "ascii")))}`,
    "SIGNATURE_INVALID",
  ],
  // fields (all genuinely signed: the failure is the field, not the signature)
  ...[
    ["license_key missing", { license_key: undefined }],
    ["license_key is a number", { license_key: 42 }],
    ["license_key is empty", { license_key: "" }],
    ["license_key is null", { license_key: null }],
    ["name missing", { name: undefined }],
    ["name is a number", { name: 42 }],
    ["name is empty", { name: "" }],
    ["name is an array", { name: ["Ada Lovelace"] }],
    ["email missing", { email: undefined }],
    ["email is true", { email: true }],
    ["email is empty", { email: "" }],
    ["tier missing", { tier: undefined }],
    ["tier unknown (enterprise)", { tier: "enterprise" }],
    ["tier capitalised (Core)", { tier: "Core" }],
    ["tier is a number", { tier: 1 }],
    ["issued_at missing", { issued_at: undefined }],
    ["issued_at is a date without a time", { issued_at: "2026-05-13" }],
    ["issued_at has a fraction of a second", { issued_at: "2026-05-13T22:10:27.000Z" }],
    ["issued_at has an offset instead of Z", { issued_at: "2026-05-13T22:10:27+00:00" }],
    ["issued_at has a lower-case z", { issued_at: "2026-05-13T22:10:27z" }],
    ["issued_at has a space instead of T", { issued_at: "2026-05-13 22:10:27Z" }],
    ["issued_at is an impossible date (30 February)", { issued_at: "2026-02-30T00:00:00Z" }],
    ["issued_at is 24:00:00", { issued_at: "2026-05-13T24:00:00Z" }],
    ["issued_at is a leap second", { issued_at: "2026-06-30T23:59:60Z" }],
    ["issued_at is a Unix time number", { issued_at: 1778710227 }],
    ["expires_at missing", { expires_at: undefined }],
    ["expires_at has a fraction of a second", { expires_at: "2027-05-13T22:10:27.5Z" }],
    ["expires_at is an impossible date (month 13)", { expires_at: "2027-13-01T00:00:00Z" }],
    ["expires_at is null", { expires_at: null }],
  ].map(([name, changes]) => [
    `${name} (signed)`,
    signJson(dev, payloadWith(changes)),
    "PAYLOAD_FIELD",
  ]),
  // order of checks: with two faults, the earlier check decides
  [
    "order: v is 3 and the kid is unknown",
    signJson(untrusted, payloadWith({ v: 3, kid: untrusted.kid.replace(/./, "0") })),
    "PAYLOAD_VERSION",
  ],
  [
    "order: an unknown kid and a bad tier",
    signJson(untrusted, payloadWith({ kid: untrusted.kid, tier: "gold" })),
    "KEY_UNKNOWN",
  ],
  [
    "order: a bad signature and a bad tier (fields are read only once the signature holds)",
    `${BLOB_PREFIX}${b64u(Buffer.from(JSON.stringify(payloadWith({ tier: "gold" }))))}.${mainVectors[0].signature_b64u}`,
    "SIGNATURE_INVALID",
  ],
  [
    "order: bad base64 in the signature and a payload that is not JSON",
    `${BLOB_PREFIX}${b64u(Buffer.from("not json"))}.${replaceAt(mainVectors[0].signature_b64u, 3, "+")}`,
    "BLOB_ENCODING",
  ],
].map(([name, input, error]) => ({ name, input, error }));

// Every vector must behave as listed with the current reader, or the file is not written.
for (const v of invalid) {
  let code = "(accepted)";
  try {
    verifyBlob(v.input, ring);
  } catch (err) {
    code = err.code ?? String(err);
  }
  if (code !== v.error)
    throw new Error(`invalid vector "${v.name}": expected ${v.error}, got ${code}`);
}
// The readme and the valid vectors must agree as well.
for (const v of [...mainVectors, ...otherValid]) verifyBlob(v.input, ring);
if (encodeBlob(mainVectors[0].payload, dev) !== devBlob)
  throw new Error("encodeBlob is not stable");

const doc = {
  format: "DTLIC2",
  about:
    "Test vectors for the DTLIC2 license format (docs/FORMAT.md). A reader trusting exactly the keys marked trusted must accept every valid vector, returning its blob (whitespace removed) and payload, and refuse every invalid vector with the listed error code. Regenerate with `node scripts/make-vectors.mjs`.",
  max_blob_length: MAX_BLOB_LENGTH,
  keys: KEYS.map((k) => ({
    name: k.name,
    trusted: k.trusted,
    ...(k.seed_text
      ? { seed_text: k.seed_text, seed: "SHA-256 of the UTF-8 bytes of seed_text" }
      : {}),
    seed_hex: k.seed.toString("hex"),
    public_key_hex: k.signer.publicKey.hex,
    kid: k.signer.kid,
  })),
  valid: [...mainVectors, ...otherValid],
  invalid,
};

const text = JSON.stringify(doc, null, 2) + "\n";
const mode = process.argv[2];
if (mode === "--stdout") {
  process.stdout.write(text);
} else if (mode === "--check") {
  let current = "";
  try {
    current = readFileSync(OUT, "utf8");
  } catch {
    // a missing file is simply out of date
  }
  if (current !== text) {
    console.error(`${OUT} is out of date; run node scripts/make-vectors.mjs`);
    process.exitCode = 1;
  }
} else {
  writeFileSync(OUT, text);
  console.log(`wrote ${invalid.length} invalid and ${doc.valid.length} valid vectors to ${OUT}`);
}
