// A small stand-in for the license server's online endpoints (the wire format of
// docs/FORMAT.md "Signed server answers"), on 127.0.0.1:0, that can misbehave on demand.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { signAnswer } from "../../src/core/answer.js";
import { LicenseError } from "../../src/core/errors.js";
import { verifyBlob } from "../../src/core/format.js";
import { KeyRing, importPublicKey, type Signer } from "../../src/core/keys.js";
import { afterEach } from "vitest";
import { DEV_PUB, devSigner, vendorSigner } from "./support.js";

/** How the next answers go wrong. */
export type Misbehaviour =
  | "none"
  /** The signature's bytes changed (same kid). */
  | "forged"
  /** Signed correctly, by a key the app does not trust. */
  | "other-key"
  /** The previous answer of the same route, body and signature, sent again. */
  | "replay"
  /** Another body under the genuine answer's signature. */
  | "swap"
  /** server_time an hour ahead. */
  | "skew"
  /** No DTL-Signature header. */
  | "unsigned"
  /** 500 with the standard error body. */
  | "error-5xx"
  /** Accepts the request and never answers. */
  | "hang";

interface Activation {
  id: number;
  fingerprint: string;
  hostname: string | null;
  first_seen_at: string;
  last_seen_at: string;
}

interface Sent {
  status: number;
  body: string;
  signature: string;
}

export interface FakeServer {
  readonly url: string;
  /** How the next answers misbehave; "none" answers correctly. */
  mode: Misbehaviour;
  /** Seat limit for licenses seen from now on (null: unlimited). */
  seatLimit: number | null;
  /** Every raw answer sent, for independent verification. */
  readonly sent: Sent[];
  /** Revokes or suspends a license (the revocation list's serial grows). */
  setState(licenseKey: string, state: "active" | "revoked" | "suspended"): void;
  /** Lowers the revocation list's serial (a stale cache in front of the server). */
  rewindSerial(by: number): void;
  /** Stops listening; later requests find nothing there. */
  close(): Promise<void>;
}

const ms = (d: Date) => d.toISOString();

/** Starts the fake server: blobs are checked with `ring`, answers signed with `signer`. */
export async function startFakeServer(options: {
  ring: KeyRing;
  signer: Signer;
  otherSigner: Signer;
  now: () => Date;
}): Promise<FakeServer> {
  const states = new Map<string, { state: "active" | "revoked" | "suspended"; since: string }>();
  const seats = new Map<string, { limit: number | null; activations: Activation[] }>();
  const last = new Map<string, Sent>();
  const hanging = new Set<ServerResponse>();
  let serial = 1;
  let nextId = 1;

  const fake: FakeServer = {
    url: "",
    mode: "none",
    seatLimit: null,
    sent: [],
    setState(key, state) {
      states.set(key, { state, since: ms(options.now()) });
      serial += 1;
    },
    rewindSerial(by) {
      serial -= by;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };

  const send = (req: IncomingMessage, res: ServerResponse, status: number, value: object) => {
    const mode = fake.mode;
    const route = req.url ?? "";
    if (mode === "hang") {
      hanging.add(res);
      return;
    }
    if (mode === "error-5xx") {
      const body = JSON.stringify({
        error: { code: "INTERNAL", message: "an unexpected server error", request_id: "req-1" },
      });
      res.writeHead(500, { "content-type": "application/json" }).end(body);
      return;
    }
    let body = JSON.stringify(
      mode === "skew" && "server_time" in value
        ? { ...value, server_time: ms(new Date(options.now().getTime() + 3_600_000)) }
        : value,
    );
    let signature = signAnswer(mode === "other-key" ? options.otherSigner : options.signer, body);
    const genuine: Sent = { status, body, signature };
    if (mode === "replay" && last.has(route)) ({ status, body, signature } = last.get(route)!);
    if (mode === "forged") {
      const at = signature.length - 10;
      const c = signature[at] === "A" ? "B" : "A";
      signature = signature.slice(0, at) + c + signature.slice(at + 1);
    }
    if (mode === "swap") {
      body = body
        .replace(/"code":"[A-Z_]+"/, '"code":"VALID"')
        .replace(/"serial":\d+/, '"serial":999');
      if (body === genuine.body) body = body.replace("}", ',"x":1}');
    }
    if (mode === "none") last.set(route, genuine);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (mode !== "unsigned") headers["dtl-signature"] = signature;
    fake.sent.push({ status, body, signature });
    res.writeHead(status, headers).end(body);
  };

  const seatAnswer = (
    code: string,
    message: string,
    key: string | null,
    state: string,
    expires: string | null,
    activation: Activation | null,
    nonce: string,
  ) => {
    const s = key ? seats.get(key) : undefined;
    return {
      code,
      message,
      license_key: key,
      state,
      expires_at: expires,
      seats: s ? { limit: s.limit, used: s.activations.length } : null,
      activation,
      nonce,
      server_time: ms(options.now()),
    };
  };

  const handle = (req: IncomingMessage, res: ServerResponse, text: string) => {
    const route = req.url ?? "";
    if (req.method === "GET" && route === "/v1/revocations") {
      const revoked = [...states.entries()]
        .filter(([, v]) => v.state !== "active")
        .map(([license_key, v]) => ({ license_key, state: v.state, since: v.since }))
        .sort((a, b) => (a.license_key < b.license_key ? -1 : 1));
      const now = options.now();
      send(req, res, 200, {
        serial,
        issued_at: ms(now),
        next_update: ms(new Date(now.getTime() + 3_600_000)),
        server_time: ms(now),
        revoked,
      });
      return;
    }
    let body: { blob: string; fingerprint: string; nonce: string; hostname?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      send(req, res, 400, {
        error: { code: "REQUEST_INVALID", message: "not JSON", request_id: "r" },
      });
      return;
    }
    let key: string;
    let expires: string;
    try {
      const { payload } = verifyBlob(body.blob, options.ring);
      key = payload.license_key;
      expires = payload.expires_at;
    } catch (err) {
      const code = err instanceof LicenseError ? err.code : "BLOB_MALFORMED";
      send(req, res, 403, seatAnswer(code, "not genuine", null, "unknown", null, null, body.nonce));
      return;
    }
    if (!seats.has(key)) seats.set(key, { limit: fake.seatLimit, activations: [] });
    const seat = seats.get(key)!;
    const now = ms(options.now());
    const state = states.get(key)?.state ?? "active";
    const mine = seat.activations.find((a) => a.fingerprint === body.fingerprint) ?? null;
    /** Sends the seat answer for this license, machine and nonce. */
    const answer = (status: number, code: string, message: string, a: Activation | null) =>
      send(req, res, status, seatAnswer(code, message, key, state, expires, a, body.nonce));
    /** Answers for a license that is not active (true), or does nothing (false). */
    const stop = (): boolean => {
      if (state === "active") return false;
      answer(403, state.toUpperCase(), `the license is ${state}`, mine);
      return true;
    };
    if (route === "/v1/activations") {
      if (stop()) return;
      if (mine) {
        mine.last_seen_at = now;
        answer(200, "ALREADY_ACTIVE", "already active", mine);
        return;
      }
      if (seat.limit !== null && seat.activations.length >= seat.limit) {
        answer(409, "SEAT_LIMIT_REACHED", `all ${seat.limit} seats are taken`, null);
        return;
      }
      const a: Activation = {
        id: nextId++,
        fingerprint: body.fingerprint,
        hostname: body.hostname ?? null,
        first_seen_at: now,
        last_seen_at: now,
      };
      seat.activations.push(a);
      answer(201, "ACTIVATED", "activated", a);
      return;
    }
    if (route === "/v1/activations/release") {
      if (!mine) {
        answer(404, "NOT_ACTIVATED", "no seat", null);
        return;
      }
      seat.activations = seat.activations.filter((a) => a !== mine);
      answer(200, "RELEASED", "released", mine);
      return;
    }
    if (route === "/v1/check-in") {
      if (stop()) return;
      if (!mine) {
        answer(404, "NOT_ACTIVATED", "no seat", null);
        return;
      }
      mine.last_seen_at = now;
      answer(200, "VALID", "valid", mine);
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end(
      JSON.stringify({
        error: { code: "ROUTE_NOT_FOUND", message: "no route", request_id: "r" },
      }),
    );
  };

  const server: Server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => handle(req, res, text));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  (fake as { url: string }).url = `http://127.0.0.1:${port}`;
  return fake;
}

/**
 * Registers an afterEach that closes every server started through the returned function, which
 * starts one trusting the development key and signing with it (the vendor key as the other).
 */
export function useFakeServers(): (now: () => Date) => Promise<FakeServer> {
  const ring = new KeyRing([importPublicKey(Buffer.from(DEV_PUB, "hex"))]);
  const servers: FakeServer[] = [];
  afterEach(async () => {
    while (servers.length > 0)
      await servers
        .pop()!
        .close()
        .catch(() => undefined);
  });
  return async (now) => {
    const server = await startFakeServer({
      ring,
      signer: devSigner,
      otherSigner: vendorSigner,
      now,
    });
    servers.push(server);
    return server;
  };
}
