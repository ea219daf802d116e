// The buyer's online commands: activate --server, check-in, status --online, deactivate.
import { existsSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LicenseClient } from "../../src/client/index.js";
import { runInProcess, spawnCli } from "../helpers/cli.js";
import { useFakeServers } from "./fake-checkin-server.js";
import { ADA, DAY, DEV_PUB, NOW, mint, tempHome } from "./support.js";

const startServer = useFakeServers();

/** The stable code at the end of the CLI's one-line error. */
const codeOf = (stderr: string) => /\[([A-Z_0-9]+)\]\n$/.exec(stderr)?.[1];

async function setUp() {
  const clock = { now: NOW };
  const server = await startServer(() => clock.now);
  const home = tempHome();
  const { blob, payload } = mint({}, NOW);
  const cli = (argv: string[]) => runInProcess(argv, { home, now: clock.now });
  const activate = (extra: string[] = []) =>
    cli(["activate", blob, "--name", ADA.name, "--email", ADA.email, ...extra]);
  const onlineFile = new LicenseClient({ publicKeys: [DEV_PUB], home }).onlinePath;
  return { clock, server, home, blob, key: payload.license_key, cli, activate, onlineFile };
}

describe("dtlicense activate --server, check-in, status --online", () => {
  it("activates online, checks in and shows the online status", async () => {
    const { server, cli, activate, onlineFile, clock } = await setUp();
    const act = await activate(["--server", server.url]);
    expect(act.code).toBe(0);
    expect(act.stdout).toMatch(/^Activated DT1-/);
    expect(act.stdout).toMatch(
      /Activated this machine with http:\/\/127\.0\.0\.1:\d+ \(1 of unlimited seats in use\)/,
    );
    expect(statSync(onlineFile).mode & 0o777).toBe(0o600);

    clock.now = new Date(NOW.getTime() + DAY);
    const checkIn = await cli(["check-in"]);
    expect(checkIn.code).toBe(0);
    expect(checkIn.stdout).toMatch(/the license is valid/);

    const status = await cli(["status", "--online", "--json"]);
    expect(status.code).toBe(0);
    const json = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(json.state).toBe("active");
    expect(json.check_in).toMatchObject({ ok: true, code: "VALID", server: server.url });
    expect(json.online).toMatchObject({ server: server.url, problem: null });

    const human = await cli(["status"]);
    expect(human.stdout).toMatch(/Server: +http:\/\/127/);
    expect(human.stdout).toMatch(
      /Checked in: +2026-05-14T22:10:27\.000Z \(offline until 2026-05-28/,
    );
  });

  it("prints JSON for activate --server and check-in", async () => {
    const { server, cli, activate } = await setUp();
    const act = await activate(["--server", server.url, "--json"]);
    expect(act.code).toBe(0);
    expect(JSON.parse(act.stdout)).toMatchObject({
      activated: true,
      changed: true,
      online: { ok: true, code: "ACTIVATED", http_status: 201, seats: { limit: null, used: 1 } },
    });
    const checkIn = await cli(["check-in", "--json"]);
    expect(JSON.parse(checkIn.stdout)).toMatchObject({ ok: true, code: "VALID", http_status: 200 });
  });

  it("exits 1 with SEAT_LIMIT_REACHED when the seats are taken, keeping the license stored", async () => {
    const { server, activate, blob } = await setUp();
    server.seatLimit = 1;
    const other = new LicenseClient({
      publicKeys: [DEV_PUB],
      home: tempHome(),
      now: () => NOW,
      online: { fingerprint: "fp-the-other-machine" },
    });
    other.activate(blob, ADA);
    expect((await other.activateMachine({ server: server.url })).code).toBe("ACTIVATED");
    const act = await activate(["--server", server.url]);
    expect(act.code).toBe(1);
    expect(codeOf(act.stderr)).toBe("SEAT_LIMIT_REACHED");
    expect(act.stderr).toMatch(/all 1 seats are taken/);
    expect(act.stdout).toMatch(/^Activated DT1-/);
  });

  it("check-in exits 1 with CHECK_IN_UNAVAILABLE offline, and the license keeps working within grace", async () => {
    const { server, cli, activate, clock } = await setUp();
    await activate(["--server", server.url]);
    await server.close();
    clock.now = new Date(NOW.getTime() + 3 * DAY);
    const checkIn = await cli(["check-in", "--timeout", "2"]);
    expect(checkIn.code).toBe(1);
    expect(codeOf(checkIn.stderr)).toBe("CHECK_IN_UNAVAILABLE");
    expect(checkIn.stderr).toMatch(/keeps the license working until 2026-05-27/);
    expect((await cli(["status"])).code).toBe(0);
    clock.now = new Date(NOW.getTime() + 15 * DAY);
    const late = await cli(["status"]);
    expect(late.code).toBe(8);
    expect(late.stdout).toMatch(/check_in_required/);
    expect(late.stdout).toMatch(/dtlicense check-in/);
  });

  it("reports a license revoked on the server after check-in (exit 6) and keeps it revoked offline", async () => {
    const { server, cli, activate, key } = await setUp();
    await activate(["--server", server.url]);
    server.setState(key, "revoked");
    const checkIn = await cli(["check-in"]);
    expect(checkIn.code).toBe(6);
    await server.close();
    const status = await cli(["status", "--json"]);
    expect(status.code).toBe(6);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: "revoked", code: "LICENSE_REVOKED" });
  });

  it("check-in without a known server is CHECK_IN_UNAVAILABLE and says how to activate online", async () => {
    const { cli, activate } = await setUp();
    await activate();
    const checkIn = await cli(["check-in"]);
    expect(checkIn.code).toBe(1);
    expect(codeOf(checkIn.stderr)).toBe("CHECK_IN_UNAVAILABLE");
    expect(checkIn.stderr).toMatch(/activate --file .* --server URL/);
    const status = await cli(["status", "--online"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^No license server is known/);
  });

  it("has --help on check-in, and a bad --timeout is a usage mistake", async () => {
    const { cli } = await setUp();
    const help = await cli(["check-in", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: dtlicense check-in/);
    expect(help.stdout).toMatch(/--server <url>/);
    const bad = await cli(["check-in", "--timeout", "0"]);
    expect([bad.code, codeOf(bad.stderr)]).toEqual([2, "USAGE"]);
  });
});

describe("dtlicense deactivate with a license server", () => {
  it("releases the seat, then removes the license", async () => {
    const { server, cli, activate, onlineFile } = await setUp();
    await activate(["--server", server.url]);
    const out = await cli(["deactivate", "--yes"]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^Released this machine's seat on http:\/\/127/);
    expect(out.stdout).toMatch(/Removed the license DT1-/);
    expect(existsSync(onlineFile)).toBe(false);
  });

  it("removes the license offline all the same, saying the seat stays taken", async () => {
    const { server, cli, activate } = await setUp();
    await activate(["--server", server.url]);
    await server.close();
    const out = await cli(["deactivate", "--yes", "--json"]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      removed: true,
      released: false,
      release: { ok: false, code: "CHECK_IN_UNAVAILABLE" },
    });
    expect((await cli(["status"])).code).toBe(3);
    const again = await activate();
    expect(again.code).toBe(0);
  });

  it("says so in words when the server cannot be reached", async () => {
    const { server, cli, activate } = await setUp();
    await activate(["--server", server.url]);
    await server.close();
    const out = await cli(["deactivate", "--yes"]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^Could not release this machine's seat: cannot reach/);
    expect(out.stdout).toMatch(/removed here anyway/);
  });
});

describe("the installed dtlicense (dist/, real clock, real process)", () => {
  it("activates online, checks in and releases the seat", async () => {
    const server = await startServer(() => new Date());
    const home = tempHome();
    const env = { HOME: home };
    const { blob } = mint({}, new Date());
    const act = await spawnCli(
      ["activate", "-", "--name", ADA.name, "--email", ADA.email, "--server", server.url, "--json"],
      env,
      blob,
    );
    expect(act.code).toBe(0);
    expect(JSON.parse(act.stdout)).toMatchObject({ online: { ok: true, code: "ACTIVATED" } });
    const checkIn = await spawnCli(["check-in", "--json"], env);
    expect(JSON.parse(checkIn.stdout)).toMatchObject({ ok: true, code: "VALID" });
    const off = await spawnCli(["deactivate", "--yes", "--json"], env);
    expect(JSON.parse(off.stdout)).toMatchObject({ removed: true, released: true });
  });
});
