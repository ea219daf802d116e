// The client library and the buyer command line against the real license server (fastify on
// 127.0.0.1:0 over PGlite, and PostgreSQL when TEST_DATABASE_URL is set): the two halves of
// the online check-in, built against docs/FORMAT.md, talking to each other.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { beforeAll, describe, expect, it } from "vitest";
import { LicenseClient, loadLicense } from "../../src/client/index.js";
import { hostLabel } from "../../src/cli/online.js";
import { backendNames } from "../store/databases.js";
import { runInProcess, spawnCli, tempHome } from "../helpers/cli.js";
import { KeyRing, generateKeypair, importSigner } from "../../src/core/keys.js";
import { ring, signer, useHarness } from "../server/harness.js";

const ADA = { name: "Ada Lovelace", email: "ada@example.com" };
const MINUTE = 60_000;
const DAY = 86_400_000;

describe.each(backendNames())("the client against the real server on %s", (backend) => {
  const h = useHarness(backend);
  let url: string;

  /** Starts an app of the harness on a real socket (closed with the harness); its base URL. */
  async function listen(app: FastifyInstance): Promise<string> {
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    return `http://127.0.0.1:${address.port}`;
  }

  beforeAll(async () => {
    url = await listen(h.app);
  });

  const tick = (ms = MINUTE) => (h.clock.now = new Date(h.clock.now.getTime() + ms));

  async function admin(method: "GET" | "POST", path: string, payload?: object) {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${h.token}`,
        ...(payload ? { "content-type": "application/json" } : {}),
      },
      ...(payload ? { body: JSON.stringify(payload) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function issue(seats?: number) {
    const res = await admin("POST", "/v1/licenses", {
      ...ADA,
      tier: "pro",
      ...(seats !== undefined ? { seats } : {}),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { license_key: string; blob: string; seats: number | null };
  }

  async function seatsOnServer(key: string) {
    const res = await admin("GET", `/v1/licenses/${key}/activations`);
    expect(res.status).toBe(200);
    return res.body as {
      seats: { limit: number | null; used: number };
      activations: { id: number; fingerprint: string; released_at: string | null }[];
    };
  }

  /** A machine: its own home folder, the harness clock, a fixed fingerprint. */
  function machine(blob: string, fingerprint: string) {
    const home = tempHome("dtl-real-");
    const client = new LicenseClient({
      publicKeys: ring,
      home,
      now: () => h.clock.now,
      online: { fingerprint, hostname: `host-${fingerprint}` },
    });
    client.activate(blob, ADA);
    // The app at its next start, offline: the same keys, home and fingerprint, no server call.
    const offline = () =>
      loadLicense({ publicKeys: ring, home, now: () => h.clock.now, online: { fingerprint } });
    return { client, home, offline };
  }

  it("activates (201), repeats free (200), refuses a second machine on a one-seat license (409), releases and re-activates", async () => {
    const { license_key, blob, seats } = await issue(1);
    expect(seats).toBe(1);
    const a = machine(blob, "machine-a-0001");
    const b = machine(blob, "machine-b-0002");

    const first = await a.client.activateMachine({ server: url });
    expect(first).toMatchObject({ ok: true, code: "ACTIVATED", httpStatus: 201, server: url });
    expect(first.answer).toMatchObject({
      license_key,
      state: "active",
      seats: { limit: 1, used: 1 },
      activation: { fingerprint: "machine-a-0001", hostname: "host-machine-a-0001" },
    });
    expect(first.status.state).toBe("active");
    expect(first.status.online).toMatchObject({ server: url, problem: null });

    tick();
    const again = await a.client.activateMachine();
    expect(again).toMatchObject({ ok: true, code: "ALREADY_ACTIVE", httpStatus: 200 });
    expect(again.answer!.seats).toEqual({ limit: 1, used: 1 });

    const full = await b.client.activateMachine({ server: url });
    expect(full).toMatchObject({ ok: true, code: "SEAT_LIMIT_REACHED", httpStatus: 409 });
    expect(full.answer!.message).toMatch(/all 1 seat is taken/);
    expect(full.answer!.activation).toBeNull();
    expect((await seatsOnServer(license_key)).seats).toEqual({ limit: 1, used: 1 });

    tick();
    const released = await a.client.releaseMachine();
    expect(released).toMatchObject({ ok: true, code: "RELEASED", httpStatus: 200 });
    expect(released.answer!.seats).toEqual({ limit: 1, used: 0 });
    expect(a.client.server()).toBeUndefined();
    const onServer = await seatsOnServer(license_key);
    expect(onServer.seats.used).toBe(0);
    expect(onServer.activations[0]).toMatchObject({ fingerprint: "machine-a-0001" });
    expect(onServer.activations[0]!.released_at).not.toBeNull();

    const moved = await b.client.activateMachine({ server: url });
    expect(moved).toMatchObject({ ok: true, code: "ACTIVATED", httpStatus: 201 });
    expect(moved.status.state).toBe("active");

    const gone = await a.client.checkIn({ server: url });
    expect(gone).toMatchObject({ ok: true, code: "NOT_ACTIVATED", httpStatus: 404 });
    const twice = await a.client.releaseMachine({ server: url });
    expect(twice).toMatchObject({ ok: true, code: "NOT_ACTIVATED", httpStatus: 404 });
  });

  it("checks in VALID; once revoked through the API the check-in says REVOKED, online and offline", async () => {
    const { license_key, blob } = await issue(2);
    const a = machine(blob, "machine-a-0001");
    expect((await a.client.activateMachine({ server: url })).code).toBe("ACTIVATED");

    tick();
    const valid = await a.client.checkIn();
    expect(valid).toMatchObject({ ok: true, code: "VALID", httpStatus: 200 });
    expect(valid.status.state).toBe("active");
    expect(valid.status.online!.last_check_in).toBe(h.clock.now.toISOString());

    tick();
    const revoke = await admin("POST", `/v1/licenses/${license_key}/revoke`, {
      reason: "refunded",
    });
    expect(revoke.status).toBe(200);

    tick();
    const revoked = await a.client.checkIn();
    expect(revoked).toMatchObject({ ok: true, code: "REVOKED", httpStatus: 403 });
    expect(revoked.answer!.state).toBe("revoked");
    expect(revoked.status).toMatchObject({
      state: "revoked",
      code: "LICENSE_REVOKED",
      usable: false,
    });

    // Offline from now on: the stored, signed answer keeps it revoked.
    tick(DAY);
    expect(a.offline()).toMatchObject({ state: "revoked", code: "LICENSE_REVOKED" });
    const unreachable = await a.client.checkIn({ server: "http://127.0.0.1:9", timeoutMs: 2000 });
    expect(unreachable).toMatchObject({ ok: false, code: "CHECK_IN_UNAVAILABLE" });
    expect(unreachable.status.state).toBe("revoked");
    // Activating again is refused with the license's state.
    const refused = await a.client.activateMachine({ server: url });
    expect(refused).toMatchObject({ ok: true, code: "REVOKED", httpStatus: 403 });
  });

  it("reports a license suspended offline once a revocation list naming it was fetched, and active again after reinstatement", async () => {
    const { license_key, blob } = await issue();
    const a = machine(blob, "machine-a-0001");
    expect((await a.client.activateMachine({ server: url })).code).toBe("ACTIVATED");

    tick();
    const clear = await a.client.fetchRevocations();
    expect(clear).toMatchObject({ ok: true, code: "NOT_LISTED", httpStatus: 200 });
    const serial = clear.answer!.serial;

    tick();
    expect(
      (await admin("POST", `/v1/licenses/${license_key}/suspend`, { reason: "chargeback" })).status,
    ).toBe(200);
    tick();
    const listed = await a.client.fetchRevocations();
    expect(listed).toMatchObject({ ok: true, code: "LISTED" });
    expect(listed.answer!.serial).toBeGreaterThan(serial);
    expect(listed.answer!.revoked).toEqual([
      expect.objectContaining({ license_key, state: "suspended" }),
    ]);
    expect(listed.status).toMatchObject({ state: "suspended", code: "LICENSE_SUSPENDED" });

    tick(DAY);
    expect(a.offline()).toMatchObject({ state: "suspended", code: "LICENSE_SUSPENDED" });

    // An app with no license at all may fetch the list.
    const bare = new LicenseClient({ publicKeys: ring, home: tempHome(), now: () => h.clock.now });
    expect(await bare.fetchRevocations({ server: url })).toMatchObject({
      ok: true,
      code: "NOT_LISTED",
    });

    tick();
    expect(
      (await admin("POST", `/v1/licenses/${license_key}/reinstate`, { reason: "resolved" })).status,
    ).toBe(200);
    tick();
    const back = await a.client.checkIn();
    expect(back).toMatchObject({ ok: true, code: "VALID" });
    expect(back.status.state).toBe("active");
    expect(a.offline().state).toBe("active");
  });

  it("treats the 503 KEY_MISSING of a server without a signing key as no answer: the grace period runs", async () => {
    const { blob } = await issue(1);
    const a = machine(blob, "machine-a-0001");
    expect((await a.client.activateMachine({ server: url })).code).toBe("ACTIVATED");
    const checkedAt = h.clock.now.toISOString();

    const keyless = await listen(await h.other({ signer: undefined }));
    tick(DAY);
    const none = await a.client.checkIn({ server: keyless });
    expect(none).toMatchObject({ ok: false, code: "CHECK_IN_UNAVAILABLE", httpStatus: 503 });
    expect(none.error!.message).toMatch(/KEY_MISSING/);
    expect(none.status.state).toBe("active");
    expect(none.status.online!.last_check_in).toBe(checkedAt);
    const list = await a.client.fetchRevocations({ server: keyless });
    expect(list).toMatchObject({ ok: false, code: "CHECK_IN_UNAVAILABLE", httpStatus: 503 });
    const b = machine(blob, "machine-b-0002");
    expect(await b.client.activateMachine({ server: keyless })).toMatchObject({
      ok: false,
      httpStatus: 503,
    });

    // Past the grace period with no good answer, the app is told to check in.
    tick(14 * DAY);
    expect(a.offline()).toMatchObject({ state: "check_in_required", code: "CHECK_IN_REQUIRED" });
    const back = await a.client.checkIn();
    expect(back).toMatchObject({ ok: true, code: "VALID" });
    expect(back.status.state).toBe("active");
  });

  it("takes the good answer away when the server says the machine holds no seat: released by an admin, then taken by another machine", async () => {
    const { license_key, blob } = await issue(1);
    const a = machine(blob, "machine-a-0001");
    const first = await a.client.activateMachine({ server: url });
    expect(first.code).toBe("ACTIVATED");

    tick();
    const id = first.answer!.activation!.id;
    expect((await admin("POST", `/v1/activations/${id}/release`)).status).toBe(200);
    tick();
    const gone = await a.client.checkIn();
    expect(gone).toMatchObject({ ok: true, code: "NOT_ACTIVATED", httpStatus: 404 });
    expect(gone.status).toMatchObject({ state: "check_in_required", code: "CHECK_IN_REQUIRED" });
    expect(a.offline().state).toBe("check_in_required");
    expect(a.client.server()).toBe(url);

    // Another machine takes the one seat; this one is refused and stays without a good answer.
    const b = machine(blob, "machine-b-0002");
    expect((await b.client.activateMachine({ server: url })).code).toBe("ACTIVATED");
    const full = await a.client.activateMachine();
    expect(full).toMatchObject({ ok: true, code: "SEAT_LIMIT_REACHED", httpStatus: 409 });
    expect(a.offline().state).toBe("check_in_required");

    // Once B releases it, A activates again and is active.
    expect((await b.client.releaseMachine()).code).toBe("RELEASED");
    tick();
    const again = await a.client.activateMachine();
    expect(again).toMatchObject({ ok: true, code: "ACTIVATED", httpStatus: 201 });
    expect(a.offline().state).toBe("active");
    expect((await seatsOnServer(license_key)).seats).toEqual({ limit: 1, used: 1 });
  });

  it("keeps a revoked license revoked here when its seat is released (the server releases whatever the state)", async () => {
    const { license_key, blob } = await issue(1);
    const a = machine(blob, "machine-a-0001");
    expect((await a.client.activateMachine({ server: url })).code).toBe("ACTIVATED");
    tick();
    await admin("POST", `/v1/licenses/${license_key}/revoke`, { reason: "refunded" });
    tick();
    expect((await a.client.checkIn()).code).toBe("REVOKED");
    const released = await a.client.releaseMachine();
    expect(released).toMatchObject({ ok: true, code: "RELEASED", httpStatus: 200 });
    expect(released.answer!.state).toBe("revoked");
    expect(released.status).toMatchObject({ state: "revoked", code: "LICENSE_REVOKED" });
    expect(a.offline().state).toBe("revoked");
    expect((await seatsOnServer(license_key)).seats.used).toBe(0);
  });

  it("leaves out a host name the server refuses (a C1 control character) instead of failing the activation", async () => {
    const { license_key, blob } = await issue(1);
    const bad = "kiosk\u0085name";
    // The server's rule: such a host name is a 400 REQUEST_INVALID.
    const raw = await fetch(`${url}/v1/activations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        blob,
        fingerprint: "machine-x-0009",
        nonce: "n".repeat(20),
        hostname: bad,
      }),
    });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { code: string } }).error.code).toBe("REQUEST_INVALID");

    const a = machine(blob, "machine-a-0001");
    const result = await a.client.activateMachine({ server: url, hostname: bad });
    expect(result).toMatchObject({ ok: true, code: "ACTIVATED", httpStatus: 201 });
    expect(result.answer!.activation!.hostname).toBeNull();
    const onServer = await seatsOnServer(license_key);
    expect(onServer.seats.used).toBe(1);
    expect(hostLabel(() => bad)).toBeUndefined();
    expect(hostLabel(() => "kiosk-7")).toBe("kiosk-7");
  });

  it("treats a signed 429 RATE_LIMITED as no answer: the last good one stays in force", async () => {
    const { blob } = await issue(1);
    const a = machine(blob, "machine-a-0001");
    const limited = await listen(await h.other({ verifyRateLimit: 1 }));
    const first = await a.client.activateMachine({ server: limited });
    expect(first).toMatchObject({ ok: true, code: "ACTIVATED" });
    tick();
    const refused = await a.client.checkIn();
    expect(refused).toMatchObject({ ok: false, code: "CHECK_IN_UNAVAILABLE", httpStatus: 429 });
    expect(refused.error!.message).toMatch(/RATE_LIMITED/);
    expect(refused.status.state).toBe("active");
    expect(refused.status.online!.last_check_in).toBe(first.answer!.server_time);
  });

  it("refuses the answers of a server whose signing key the app does not trust yet (rotated too early): ANSWER_KEY_UNKNOWN", async () => {
    const { blob } = await issue(1);
    const a = machine(blob, "machine-a-0001");
    expect((await a.client.activateMachine({ server: url })).code).toBe("ACTIVATED");
    const next = importSigner(Buffer.from(generateKeypair().privateKeyHex, "hex"));
    const rotated = await listen(
      await h.other({ signer: next, ring: new KeyRing([signer.publicKey, next.publicKey]) }),
    );
    tick();
    const refused = await a.client.checkIn({ server: rotated });
    expect(refused).toMatchObject({ ok: false, code: "ANSWER_KEY_UNKNOWN", httpStatus: 200 });
    expect(refused.status.state).toBe("active");
    // An app that ships both keys believes it.
    const both = new LicenseClient({
      publicKeys: new KeyRing([signer.publicKey, next.publicKey]),
      home: a.home,
      now: () => h.clock.now,
      online: { fingerprint: "machine-a-0001" },
    });
    expect(await both.checkIn({ server: rotated })).toMatchObject({ ok: true, code: "VALID" });
  });

  it("names the redirect when the address given redirects (nginx sends plain http to https) and follows none", async () => {
    const { blob } = await issue(1);
    const redirect = createServer((req, res) => {
      res.writeHead(301, { location: `https://license.example.com${req.url}` }).end();
    });
    await new Promise<void>((done) => redirect.listen(0, "127.0.0.1", done));
    try {
      const { port } = redirect.address() as AddressInfo;
      const a = machine(blob, "machine-a-0001");
      const result = await a.client.activateMachine({ server: `http://127.0.0.1:${port}` });
      expect(result).toMatchObject({ ok: false, code: "CHECK_IN_UNAVAILABLE" });
      expect(result.error!.message).toMatch(
        /answered 301, a redirect to https:\/\/license\.example\.com\/v1\/activations; redirects are not followed/,
      );
    } finally {
      redirect.closeAllConnections();
      await new Promise<void>((done) => redirect.close(() => done()));
    }
  });

  it("refuses, before sending, a fingerprint the server would refuse with 400", async () => {
    const { license_key, blob } = await issue(1);
    const raw = await fetch(`${url}/v1/check-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ blob, fingerprint: "short", nonce: "n".repeat(20) }),
    });
    expect(raw.status).toBe(400);
    for (const fingerprint of ["short", "has space in it", "a/b/c/d/e/f", "x".repeat(129)]) {
      expect(() => new LicenseClient({ publicKeys: ring, online: { fingerprint } })).toThrow(
        expect.objectContaining({ code: "CHECK_IN_UNAVAILABLE" }),
      );
    }
    const a = machine(blob, "machine-a-0001");
    await expect(
      a.client.activateMachine({ server: url, fingerprint: "has space in it" }),
    ).rejects.toMatchObject({ code: "CHECK_IN_UNAVAILABLE", message: /8-128 of A-Z/ });
    expect((await seatsOnServer(license_key)).seats.used).toBe(0);
  });

  it("gives the buyer commands the exit statuses their help promises against the real answers", async () => {
    const { license_key, blob } = await issue(1);
    const home = tempHome("dtl-real-cli-");
    const cli = (argv: string[]) => runInProcess(argv, { home, now: h.clock.now });
    const activate = () =>
      cli(["activate", blob, "--name", ADA.name, "--email", ADA.email, "--server", url]);
    const first = await activate();
    expect(first.code, first.stderr).toBe(0);

    // An admin releases the seat: check-in exits 1 NOT_ACTIVATED, status 8 until activated again.
    const seats = await seatsOnServer(license_key);
    const id = seats.activations[0]!.id;
    expect((await admin("POST", `/v1/activations/${id}/release`)).status).toBe(200);
    tick();
    const gone = await cli(["check-in"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/run dtlicense activate --server URL again \[NOT_ACTIVATED\]\n$/);
    expect((await cli(["status"])).code).toBe(8);
    expect((await activate()).code).toBe(0);
    expect((await cli(["status"])).code).toBe(0);

    // Revoked: activate --server and check-in exit 6, as status does.
    await admin("POST", `/v1/licenses/${license_key}/revoke`, { reason: "refunded" });
    tick();
    const revoked = await cli(["check-in"]);
    expect(revoked.code).toBe(6);
    expect(revoked.stdout).toMatch(/answered REVOKED/);
    expect((await cli(["status", "--online"])).code).toBe(6);
    const again = await activate();
    expect(again.code).toBe(6);
    expect((await cli(["status"])).code).toBe(6);
  });

  it("runs the installed dtlicense against it: activate --server, check-in, status --online, deactivate releases the seat", async () => {
    // The command line runs on the real clock: so does this server.
    const live = await h.other({ now: () => new Date() });
    const liveUrl = await listen(live);
    const res = await live.inject({
      method: "POST",
      url: "/v1/licenses",
      headers: { authorization: `Bearer ${h.token}` },
      payload: { ...ADA, tier: "pro", seats: 1 },
    });
    expect(res.statusCode, res.body).toBe(201);
    const { license_key, blob } = JSON.parse(res.body) as { license_key: string; blob: string };
    const env = { HOME: tempHome("dtl-real-cli-") };

    const act = await spawnCli(
      ["activate", "-", "--name", ADA.name, "--email", ADA.email, "--server", liveUrl, "--json"],
      env,
      blob,
    );
    expect(act.code, act.stderr).toBe(0);
    expect(JSON.parse(act.stdout)).toMatchObject({
      activated: true,
      online: { ok: true, code: "ACTIVATED", http_status: 201, seats: { limit: 1, used: 1 } },
    });

    const checkIn = await spawnCli(["check-in"], env);
    expect(checkIn.code, checkIn.stderr).toBe(0);
    expect(checkIn.stdout).toMatch(/the license is valid \(1 of 1 seats in use\)/);

    const status = await spawnCli(["status", "--online", "--json"], env);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      state: "active",
      license_key,
      online: { server: liveUrl, problem: null },
      check_in: { ok: true, code: "VALID", server: liveUrl },
    });

    const revoke = await live.inject({
      method: "POST",
      url: `/v1/licenses/${license_key}/suspend`,
      headers: { authorization: `Bearer ${h.token}` },
      payload: { reason: "chargeback" },
    });
    expect(revoke.statusCode, revoke.body).toBe(200);
    const suspended = await spawnCli(["check-in"], env);
    expect(suspended.code).toBe(7);
    expect(suspended.stdout).toMatch(/answered SUSPENDED/);
    expect((await spawnCli(["status"], env)).code).toBe(7);
    const reinstate = await live.inject({
      method: "POST",
      url: `/v1/licenses/${license_key}/reinstate`,
      headers: { authorization: `Bearer ${h.token}` },
      payload: { reason: "resolved" },
    });
    expect(reinstate.statusCode, reinstate.body).toBe(200);
    expect((await spawnCli(["check-in"], env)).code).toBe(0);

    const off = await spawnCli(["deactivate", "--yes"], env);
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/^Released this machine's seat/);
    const seats = await seatsOnServer(license_key);
    expect(seats.seats).toEqual({ limit: 1, used: 0 });

    const after = await spawnCli(["status"], env);
    expect(after.code).toBe(3);
  });
});
