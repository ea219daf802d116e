// The client side of the online check-in: seats, signed answers refused when they are not
// to be believed, the grace period, revocations that reach an offline app, the cache file.
import { readFileSync, statSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { answerMessage, parseAnswerSignature } from "../../src/core/answer.js";
import {
  DEFAULT_GRACE_MS,
  LicenseClient,
  loadLicense,
  machineFingerprint,
  type OnlineOptions,
} from "../../src/client/index.js";
import { noble } from "../core/support.js";
import { useFakeServers, type Misbehaviour } from "./fake-checkin-server.js";
import { ADA, DAY, DEV_PUB, NOW, devSigner, mint, tempHome } from "./support.js";

const FP = "fp-machine-0001";
const startServer = useFakeServers();

async function setUp(online: OnlineOptions = {}, fingerprint = FP) {
  const clock = { now: NOW };
  const server = await startServer(() => clock.now);
  const home = tempHome();
  const make = (opts: OnlineOptions = online, fp = fingerprint) =>
    new LicenseClient({
      publicKeys: [DEV_PUB],
      home,
      now: () => clock.now,
      online: { fingerprint: fp, timeoutMs: 1_000, ...opts },
    });
  const client = make();
  const { blob, payload } = mint({}, NOW);
  client.activate(blob, ADA);
  return { clock, server, home, client, make, blob, key: payload.license_key };
}

const cacheText = (client: LicenseClient) => readFileSync(client.onlinePath, "utf8");

describe("activating a machine and checking in", () => {
  it("takes a seat, stores the signed answer mode 600, and stays active", async () => {
    const { client, server, key } = await setUp();
    const result = await client.activateMachine({ server: server.url, hostname: "ada-laptop" });
    expect(result.ok).toBe(true);
    expect(result.code).toBe("ACTIVATED");
    expect(result.httpStatus).toBe(201);
    expect(result.answer?.license_key).toBe(key);
    expect(result.answer?.activation?.hostname).toBe("ada-laptop");
    expect(result.status.state).toBe("active");
    expect(result.status.online?.server).toBe(server.url);
    expect(result.status.online?.last_check_in).toBe(NOW.toISOString());
    expect(statSync(client.onlinePath).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(cacheText(client)) as Record<string, unknown>;
    expect(Object.keys(stored)).toEqual(["version", "server", "good", "stop", "revocations"]);
    expect(stored.server).toBe(server.url);

    const again = await client.activateMachine();
    expect([again.ok, again.code, again.httpStatus]).toEqual([true, "ALREADY_ACTIVE", 200]);
    const checked = await client.checkIn();
    expect([checked.ok, checked.code]).toEqual([true, "VALID"]);
  });

  it("reports SEAT_LIMIT_REACHED and stores nothing when the seats are taken", async () => {
    const { make, server } = await setUp();
    server.seatLimit = 1;
    expect((await make({}, "fp-first-machine").activateMachine({ server: server.url })).code).toBe(
      "ACTIVATED",
    );
    const second = make({}, "fp-second-machine");
    const before = cacheText(second);
    const result = await second.activateMachine({ server: server.url });
    expect([result.ok, result.code, result.httpStatus]).toEqual([true, "SEAT_LIMIT_REACHED", 409]);
    expect(result.answer?.message).toMatch(/1 seats are taken/);
    expect(cacheText(second)).toBe(before);
  });

  it("releases the seat, so another machine can take it", async () => {
    const { make, server } = await setUp();
    server.seatLimit = 1;
    const first = make({}, "fp-first-machine");
    await first.activateMachine({ server: server.url });
    const released = await first.releaseMachine();
    expect([released.ok, released.code]).toEqual([true, "RELEASED"]);
    expect(released.status.online).toBeUndefined();
    expect(released.status.state).toBe("active");
    const second = await make({}, "fp-second-machine").activateMachine({ server: server.url });
    expect(second.code).toBe("ACTIVATED");
    expect((await first.checkIn({ server: server.url })).code).toBe("NOT_ACTIVATED");
  });

  it("refuses to check in without a license or without a known server", async () => {
    const { client } = await setUp();
    await expect(client.checkIn()).rejects.toMatchObject({ code: "CHECK_IN_UNAVAILABLE" });
    const empty = new LicenseClient({ publicKeys: [DEV_PUB], home: tempHome(), now: () => NOW });
    await expect(empty.checkIn({ server: "http://127.0.0.1:9" })).rejects.toMatchObject({
      code: "LICENSE_NONE",
    });
  });

  it("signs every answer so that an independent Ed25519 implementation verifies it", async () => {
    const { client, server } = await setUp();
    await client.activateMachine({ server: server.url });
    await client.checkIn();
    await client.fetchRevocations();
    const ed = noble();
    expect(server.sent.length).toBe(3);
    for (const sent of server.sent) {
      const { kid, sig } = parseAnswerSignature(sent.signature);
      expect(kid).toBe(devSigner.kid);
      const ok = ed.verify(
        new Uint8Array(sig),
        new Uint8Array(answerMessage(sent.body)),
        new Uint8Array(Buffer.from(DEV_PUB, "hex")),
      );
      expect(ok).toBe(true);
    }
  });
});

describe("answers that must not be believed", () => {
  const cases: [Misbehaviour, string][] = [
    ["forged", "ANSWER_SIGNATURE_INVALID"],
    ["other-key", "ANSWER_KEY_UNKNOWN"],
    ["replay", "ANSWER_NONCE_MISMATCH"],
    ["swap", "ANSWER_SIGNATURE_INVALID"],
    ["skew", "ANSWER_CLOCK_SKEW"],
    ["unsigned", "ANSWER_UNSIGNED"],
    ["error-5xx", "CHECK_IN_UNAVAILABLE"],
    ["hang", "CHECK_IN_UNAVAILABLE"],
  ];
  for (const [mode, code] of cases) {
    it(`refuses a ${mode} check-in answer with ${code} and changes nothing`, async () => {
      const { client, server, clock } = await setUp();
      await client.activateMachine({ server: server.url });
      await client.checkIn(); // an earlier answer, for the replay
      clock.now = new Date(NOW.getTime() + DAY);
      const before = cacheText(client);
      server.setState(client.status().license!.license_key, "revoked");
      server.mode = mode;
      const result = await client.checkIn();
      expect(result.ok).toBe(false);
      expect(result.code).toBe(code);
      expect(result.error?.code).toBe(code);
      expect(result.answer).toBeUndefined();
      expect(cacheText(client)).toBe(before);
      expect(result.status.state).toBe("active");
    });
  }

  it("refuses an answer from a server that is not there with CHECK_IN_UNAVAILABLE", async () => {
    const { client, server } = await setUp();
    await client.activateMachine({ server: server.url });
    const before = cacheText(client);
    await server.close();
    const result = await client.checkIn();
    expect([result.ok, result.code]).toEqual([false, "CHECK_IN_UNAVAILABLE"]);
    expect(result.error?.message).toMatch(/cannot reach the license server/);
    expect(cacheText(client)).toBe(before);
  });

  for (const [mode, code] of [
    ["forged", "ANSWER_SIGNATURE_INVALID"],
    ["other-key", "ANSWER_KEY_UNKNOWN"],
    ["swap", "ANSWER_SIGNATURE_INVALID"],
    ["skew", "ANSWER_CLOCK_SKEW"],
    ["unsigned", "ANSWER_UNSIGNED"],
  ] as const) {
    it(`refuses a ${mode} revocation list with ${code} and keeps the one held`, async () => {
      const { client, server } = await setUp();
      expect((await client.fetchRevocations({ server: server.url })).ok).toBe(true);
      const before = cacheText(client);
      server.mode = mode;
      const result = await client.fetchRevocations({ server: server.url });
      expect([result.ok, result.code]).toEqual([false, code]);
      expect(cacheText(client)).toBe(before);
    });
  }

  it("refuses a revocation list whose serial went backwards with ANSWER_STALE", async () => {
    const { client, server, key } = await setUp();
    server.setState(key, "suspended");
    server.setState(key, "active");
    expect((await client.fetchRevocations({ server: server.url })).answer?.serial).toBe(3);
    const before = cacheText(client);
    server.rewindSerial(2);
    const result = await client.fetchRevocations({ server: server.url });
    expect([result.ok, result.code]).toEqual([false, "ANSWER_STALE"]);
    expect(cacheText(client)).toBe(before);
  });
});

describe("the grace period", () => {
  it("keeps an app offline within grace working, tells it to check in after, and is fine once back", async () => {
    const { client, server, clock, make } = await setUp();
    await client.activateMachine({ server: server.url });
    const app = make({ server: server.url });
    server.mode = "hang";
    clock.now = new Date(NOW.getTime() + 13 * DAY);
    const offline = await app.checkIn({ timeoutMs: 200 });
    expect([offline.ok, offline.code]).toEqual([false, "CHECK_IN_UNAVAILABLE"]);
    expect(offline.status.usable).toBe(true);
    expect(offline.status.online?.grace_ends_at).toBe(
      new Date(NOW.getTime() + DEFAULT_GRACE_MS).toISOString(),
    );
    clock.now = new Date(NOW.getTime() + 14 * DAY + 1000);
    const late = app.status();
    expect(late.state).toBe("check_in_required");
    expect(late.code).toBe("CHECK_IN_REQUIRED");
    expect(late.usable).toBe(false);
    expect(late.hasFeature("deduplicator")).toBe(false);
    expect(late.message).toMatch(/more than 14 days ago.*dtlicense check-in/);
    expect(late.toJSON()).toMatchObject({ state: "check_in_required", code: "CHECK_IN_REQUIRED" });
    server.mode = "none";
    const back = await app.checkIn();
    expect([back.ok, back.code, back.status.state]).toEqual([true, "VALID", "active"]);
  });

  it("honours a configured grace period", async () => {
    const { client, server, clock, make } = await setUp();
    await client.activateMachine({ server: server.url });
    clock.now = new Date(NOW.getTime() + 2 * DAY);
    expect(make({ server: server.url, graceMs: DAY }).status().state).toBe("check_in_required");
    expect(make({ server: server.url }).status().state).toBe("active");
  });

  it("asks an app that requires check-in to check in before the first answer", async () => {
    const { make, server } = await setUp();
    const app = make({ server: server.url });
    expect(app.status().state).toBe("check_in_required");
    expect(app.status().message).toMatch(/not been checked in/);
    expect((await app.activateMachine()).status.state).toBe("active");
  });

  it("leaves an app that does not use check-in exactly as offline", async () => {
    const { home, clock } = await setUp();
    clock.now = new Date(NOW.getTime() + 100 * DAY);
    const status = loadLicense({ publicKeys: [DEV_PUB], home, now: () => clock.now });
    expect(status.state).toBe("active");
    expect(status.online).toBeUndefined();
    expect(JSON.stringify(status)).not.toMatch(/online/);
  });
});

describe("a license revoked while the app was offline", () => {
  it("is reported revoked after the next check-in, and stays revoked offline", async () => {
    const { client, server, clock, key, home } = await setUp();
    await client.activateMachine({ server: server.url });
    server.setState(key, "revoked");
    clock.now = new Date(NOW.getTime() + 3 * DAY);
    expect(client.status().state).toBe("active");
    const result = await client.checkIn();
    expect([result.ok, result.code, result.httpStatus]).toEqual([true, "REVOKED", 403]);
    expect(result.status.state).toBe("revoked");
    expect(result.status.code).toBe("LICENSE_REVOKED");
    await server.close();
    clock.now = new Date(NOW.getTime() + 4 * DAY);
    const offline = client.status();
    expect([offline.state, offline.usable]).toEqual(["revoked", false]);
    // A fresh process of the app, with no options at all, sees it too.
    expect(loadLicense({ publicKeys: [DEV_PUB], home, now: () => clock.now }).state).toBe(
      "revoked",
    );
  });

  it("is reported suspended after a revocation-list fetch, then usable once reinstated", async () => {
    const { client, server, key, clock } = await setUp();
    await client.activateMachine({ server: server.url });
    server.setState(key, "suspended");
    clock.now = new Date(NOW.getTime() + DAY);
    const fetched = await client.fetchRevocations();
    expect([fetched.ok, fetched.code]).toEqual([true, "LISTED"]);
    expect(fetched.status.state).toBe("suspended");
    expect(fetched.status.code).toBe("LICENSE_SUSPENDED");
    expect(client.status().state).toBe("suspended");
    server.setState(key, "active");
    clock.now = new Date(NOW.getTime() + 2 * DAY);
    expect((await client.checkIn()).status.state).toBe("active");
  });

  it("applies a revocation list in an app that never checks in, and survives deactivation", async () => {
    const { client, server, key, blob } = await setUp();
    server.setState(key, "revoked");
    expect((await client.fetchRevocations({ server: server.url })).status.state).toBe("revoked");
    await server.close();
    expect(client.status().state).toBe("revoked");
    client.deactivate();
    client.activate(blob, ADA);
    expect(client.status().state).toBe("revoked");
  });
});

describe("a tampered cache", () => {
  async function revokedApp() {
    const s = await setUp();
    await s.client.activateMachine({ server: s.server.url });
    return s;
  }

  const edits: [string, (text: string) => string][] = [
    [
      "a later server_time in the good answer",
      (t) => t.replace(/server_time\\":\\"2026-05-13/, 'server_time\\":\\"2026-05-30'),
    ],
    ["garbage instead of JSON", () => "{not json"],
    ["an unknown version", (t) => t.replace('"version": 1', '"version": 9')],
    [
      "the good answer's signature removed",
      (t) => t.replace(/"signature": "[^"]+"/, '"signature": ""'),
    ],
  ];
  for (const [what, edit] of edits) {
    it(`never unlocks: ${what} means check in`, async () => {
      const { client, make, server, clock } = await revokedApp();
      clock.now = new Date(NOW.getTime() + DAY);
      writeFileSync(client.onlinePath, edit(cacheText(client)));
      const app = make({ server: server.url });
      expect(app.status().state).toBe("check_in_required");
      expect(client.status().state).toBe("check_in_required");
      expect(client.status().online?.problem).toBeTruthy();
    });
  }

  it("never unlocks a revoked license when the stop answer is removed", async () => {
    const { client, server, key } = await revokedApp();
    server.setState(key, "revoked");
    await client.checkIn();
    const record = JSON.parse(cacheText(client)) as Record<string, unknown>;
    writeFileSync(client.onlinePath, JSON.stringify({ ...record, stop: null }));
    expect(client.status().state).toBe("check_in_required");
  });

  it("never unlocks with a record copied from another machine", async () => {
    const { make, server } = await revokedApp();
    expect(make({ server: server.url }, "fp-another-machine").status().state).toBe(
      "check_in_required",
    );
  });

  it("never unlocks an app that requires check-in when the record is deleted", async () => {
    const { client, make, server } = await revokedApp();
    rmSync(client.onlinePath);
    expect(existsSync(client.onlinePath)).toBe(false);
    expect(make({ server: server.url }).status().state).toBe("check_in_required");
  });
});

describe("the record and the stored license", () => {
  it("asks for a check-in when the clock was set back before the last answer", async () => {
    const { client, server, clock } = await setUp();
    clock.now = new Date(NOW.getTime() + 2 * 3_600_000);
    await client.activateMachine({ server: server.url });
    clock.now = NOW;
    const status = client.status();
    expect(status.state).toBe("check_in_required");
    expect(status.online?.problem).toMatch(/clock was set back/);
  });

  it("sets the answers aside when another license replaces the stored one", async () => {
    const { client, server, make } = await setUp();
    await client.activateMachine({ server: server.url });
    const other = mint({ tier: "pro" }, NOW);
    client.activate(other.blob, ADA, { force: true });
    const record = JSON.parse(cacheText(client)) as Record<string, unknown>;
    expect([record.server, record.good, record.stop]).toEqual([server.url, null, null]);
    expect(make({ server: server.url }).status().state).toBe("check_in_required");
    expect((await client.activateMachine()).status.state).toBe("active");
  });
});

describe("machineFingerprint", () => {
  it("hashes the OS machine id with the product prefix, never sending the raw id", () => {
    const id = "0123456789abcdef0123456789abcdef";
    const fp = machineFingerprint({ platform: "linux", readFile: () => `${id}\n` });
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(fp).not.toContain(id);
    expect(
      machineFingerprint({ platform: "linux", readFile: () => id, product: "other" }),
    ).not.toBe(fp);
  });

  it("reads IOPlatformUUID on macOS and MachineGuid on Windows", () => {
    const mac = machineFingerprint({
      platform: "darwin",
      run: () => '  "IOPlatformUUID" = "1A2B3C4D-0000-1111-2222-333344445555"\n',
    });
    const win = machineFingerprint({
      platform: "win32",
      run: () => "    MachineGuid    REG_SZ    6f1e2d3c-aaaa-bbbb-cccc-1234567890ab\n",
    });
    expect(mac).toMatch(/^[0-9a-f]{64}$/);
    expect(win).toMatch(/^[0-9a-f]{64}$/);
    expect(mac).not.toBe(win);
  });

  it("falls back to a stable hash when the system has no machine id", () => {
    const none = () => {
      throw new Error("ENOENT");
    };
    const a = machineFingerprint({ platform: "linux", readFile: none });
    expect(a).toBe(machineFingerprint({ platform: "linux", readFile: none }));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});
