// The TypeScript package's answers, for the parity tests: reads one JSON request on stdin,
// runs it through the built dist/ (the same code the dtlicense command line runs) and prints
// one JSON answer. Failures are answered as {error: {code, message}}, never thrown.
//   node ts_oracle.mjs < request.json        one request: {"op": ..., ...}
//   node ts_oracle.mjs hold LOCKPATH         take the lock, print "held", keep it until killed
import { readFileSync } from "node:fs";
import {
  BLOB_PREFIX,
  DEFAULT_CATALOGUE,
  ERROR_CODES,
  b64uEncode,
  importSigner,
  parseCatalogue,
  verifyBlob,
} from "../../dist/core/index.js";
import { LicenseClient, toKeyRing } from "../../dist/client/index.js";
import { serializeRecord } from "../../dist/client/store.js";
import { acquireLockSync } from "../../dist/config/lock.js";

function attempt(fn) {
  try {
    return { ok: fn() };
  } catch (err) {
    if (err && typeof err.code === "string" && typeof err.message === "string") {
      return { error: { code: err.code, message: err.message } };
    }
    throw err;
  }
}

function statusJson(status) {
  return { json: status.toJSON(), usable: status.usable, message: status.message ?? null };
}

function client(req) {
  return new LicenseClient({
    publicKeys: req.keys,
    home: req.home,
    now: () => new Date(req.now),
    ...(req.catalogue ? { catalogue: parseCatalogue(req.catalogue) } : {}),
  });
}

function change(result) {
  return {
    changed: result.changed,
    previous: result.previous ?? null,
    status: statusJson(result.status),
  };
}

const OPS = {
  // Each input through verifyBlob: the blob and payload, or the code and message.
  verify: (req) =>
    req.inputs.map((input) =>
      attempt(() => {
        const { blob, payload } = verifyBlob(input, toKeyRing(req.keys));
        return { blob, payload };
      }),
    ),
  // Each key list through toKeyRing: the kids, or the code and message.
  keyring: (req) =>
    req.lists.map((keys) =>
      attempt(() =>
        toKeyRing(keys)
          .keys()
          .map((k) => k.kid),
      ),
    ),
  // Blobs signed over exact payload bytes (UTF-8 text, or base64 for bytes that are not).
  sign: (req) =>
    req.items.map(({ seed_hex, text, bytes_b64 }) => {
      const signer = importSigner(Buffer.from(seed_hex, "hex"));
      const payload =
        text !== undefined ? Buffer.from(text, "utf8") : Buffer.from(bytes_b64, "base64");
      const signingInput = BLOB_PREFIX + b64uEncode(payload);
      return `${signingInput}.${b64uEncode(signer.sign(Buffer.from(signingInput, "ascii")))}`;
    }),
  status: (req) => statusJson(client(req).status({ refresh: req.refresh ?? false })),
  activate: (req) =>
    attempt(() =>
      change(
        client(req).activate(req.blob, { name: req.name, email: req.email }, { force: req.force }),
      ),
    ),
  renew: (req) => attempt(() => change(client(req).renew(req.blob))),
  deactivate: (req) =>
    attempt(() => {
      const { removed, previous } = client(req).deactivate();
      return { removed, previous: statusJson(previous) };
    }),
  serialize: (req) => req.records.map((record) => serializeRecord(record)),
  catalogue: (req) => req.values.map((value) => attempt(() => parseCatalogue(value))),
  facts: () => ({ catalogue: DEFAULT_CATALOGUE, error_codes: ERROR_CODES }),
  // JSON.parse of each text, answered as JSON.stringify of the value, or null when it throws.
  parse_json: (req) =>
    req.texts.map((text) => {
      try {
        return JSON.stringify(JSON.parse(text));
      } catch {
        return null;
      }
    }),
};

if (process.argv[2] === "hold") {
  const attemptLock = acquireLockSync(process.argv[3], { waitMs: 0 });
  if (!attemptLock.ok) {
    process.stdout.write("busy\n");
    process.exit(1);
  }
  process.stdout.write("held\n");
  setInterval(() => {}, 1 << 30);
} else {
  const req = JSON.parse(readFileSync(0, "utf8"));
  const op = OPS[req.op];
  if (!op) throw new Error(`unknown op ${req.op}`);
  process.stdout.write(`${JSON.stringify(op(req))}\n`);
}
