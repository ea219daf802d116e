// The one production rule (src/core/environment.ts) and every place that applies it.
import { describe, expect, it } from "vitest";
import {
  devKeyRefusal,
  generateKeypair,
  isLoopbackHost,
  runtimeMode,
} from "../../src/core/index.js";
import { loadServerConfig } from "../../src/config/server.js";
import { assertProductionSafe } from "../../src/client/index.js";
import { DEV_PUBLIC_KEY_HEX } from "../../src/core/keys.js";
import { runInProcess, tempHome } from "../helpers/cli.js";
import { codeOf } from "./support.js";

/** Spellings a careless operator might use for production; each must count as production. */
const PRODUCTION_SPELLINGS = [
  "production",
  "Production",
  "PRODUCTION",
  "prod",
  "staging",
  " production ",
  "live",
  "produciton",
  "release",
];
const DEVELOPMENT_SPELLINGS = [
  undefined,
  "",
  "  ",
  "development",
  "Development",
  "DEV",
  "dev",
  "test",
  " Test ",
];

describe("runtimeMode", () => {
  it("counts every NODE_ENV other than unset, empty, development, dev or test as production", () => {
    for (const value of PRODUCTION_SPELLINGS) {
      expect(runtimeMode(value).production, JSON.stringify(value)).toBe(true);
      expect(runtimeMode(value).declaredDevelopment, JSON.stringify(value)).toBe(false);
    }
    for (const value of DEVELOPMENT_SPELLINGS) {
      expect(runtimeMode(value).production, JSON.stringify(value)).toBe(false);
    }
  });

  it("tells a NODE_ENV that declares development from one that is merely unset", () => {
    for (const value of ["development", "DEV", " test "]) {
      expect(runtimeMode(value).declaredDevelopment, value).toBe(true);
    }
    for (const value of [undefined, "", " "]) {
      expect(runtimeMode(value).declaredDevelopment, JSON.stringify(value)).toBe(false);
    }
  });

  it("describes the value so a message shows what the operator set", () => {
    expect(runtimeMode("production").describe).toBe("NODE_ENV=production");
    expect(runtimeMode(" production ").describe).toBe('NODE_ENV=" production "');
    expect(runtimeMode(undefined).describe).toBe("NODE_ENV unset");
  });
});

describe("isLoopbackHost", () => {
  it("knows the loopback addresses and nothing else", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]"]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [
      "0.0.0.0",
      "::",
      "[::]",
      "10.0.0.5",
      "192.168.1.10",
      "license.example.com",
      "128.0.0.1",
      "127.0.0.1.example.com",
      "::ffff:10.0.0.1",
    ]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe("devKeyRefusal", () => {
  it("refuses in production whatever the address, saying how NODE_ENV was read", () => {
    expect(devKeyRefusal("Production")).toMatch(/^NODE_ENV=Production counts as production/);
    expect(devKeyRefusal("prod", "127.0.0.1")).toMatch(/NODE_ENV=prod counts as production/);
  });

  it("refuses a server reachable from other machines unless NODE_ENV declares development", () => {
    expect(devKeyRefusal(undefined, "0.0.0.0")).toMatch(/listens on 0\.0\.0\.0/);
    expect(devKeyRefusal("", "10.0.0.5")).toMatch(/other machines can reach/);
    expect(devKeyRefusal("development", "0.0.0.0")).toBeUndefined();
    expect(devKeyRefusal("test", "::")).toBeUndefined();
  });

  it("allows development on loopback and in commands that listen nowhere", () => {
    expect(devKeyRefusal(undefined, "127.0.0.1")).toBeUndefined();
    expect(devKeyRefusal(undefined)).toBeUndefined();
    expect(devKeyRefusal("dev")).toBeUndefined();
  });
});

describe("the production rule where it is applied", () => {
  const home = tempHome("dtl-env-");
  const vendor = generateKeypair(new Uint8Array(32).fill(7));

  it("loadServerConfig refuses the development key for every production spelling", () => {
    for (const NODE_ENV of PRODUCTION_SPELLINGS) {
      const code = codeOf(() => loadServerConfig({ NODE_ENV }, { port: "0" }, home));
      expect(code, NODE_ENV).toBe("DEV_KEY_IN_PRODUCTION");
    }
    for (const NODE_ENV of DEVELOPMENT_SPELLINGS) {
      const config = loadServerConfig({ NODE_ENV }, { port: "0" }, home);
      expect(config.production, String(NODE_ENV)).toBe(false);
    }
  });

  it("loadServerConfig marks every production spelling as production with the vendor's keys", () => {
    for (const NODE_ENV of PRODUCTION_SPELLINGS) {
      const config = loadServerConfig(
        { NODE_ENV, DATATOOLS_LICENSE_PRIVKEY: vendor.privateKeyHex },
        {},
        home,
      );
      expect(config.production, NODE_ENV).toBe(true);
    }
  });

  it("serve's configuration refuses the development key on a non-loopback address unless NODE_ENV says development", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10"]) {
      expect(
        codeOf(() => loadServerConfig({}, { host }, home)),
        host,
      ).toBe("DEV_KEY_IN_PRODUCTION");
      expect(
        codeOf(() => loadServerConfig({ DATATOOLS_SERVER_HOST: host }, {}, home)),
        host,
      ).toBe("DEV_KEY_IN_PRODUCTION");
      expect(loadServerConfig({ NODE_ENV: "development" }, { host }, home).host).toBe(host);
    }
    expect(() => loadServerConfig({}, { host: "0.0.0.0" }, home)).toThrow(
      /^the public development key is refused: the server listens on 0\.0\.0\.0.*neither DATATOOLS_LICENSE_PRIVKEY/,
    );
    expect(loadServerConfig({}, { host: "127.0.0.1" }, home).keys.usingDevKey).toBe(true);
    expect(
      loadServerConfig(
        { DATATOOLS_LICENSE_PRIVKEY: vendor.privateKeyHex },
        { host: "0.0.0.0" },
        home,
      ).keys.usingDevKey,
    ).toBe(false);
  });

  it("assertProductionSafe refuses the development key for every production spelling", () => {
    for (const NODE_ENV of PRODUCTION_SPELLINGS) {
      expect(
        codeOf(() => assertProductionSafe([DEV_PUBLIC_KEY_HEX], { env: { NODE_ENV } })),
        NODE_ENV,
      ).toBe("DEV_KEY_IN_PRODUCTION");
    }
    for (const NODE_ENV of DEVELOPMENT_SPELLINGS) {
      expect(
        codeOf(() => assertProductionSafe([DEV_PUBLIC_KEY_HEX], { env: { NODE_ENV } })),
        String(NODE_ENV),
      ).toBe("(accepted)");
    }
  });

  it("the command line refuses to sign or trust the development key for every production spelling", async () => {
    for (const NODE_ENV of PRODUCTION_SPELLINGS) {
      const mint = await runInProcess(
        ["mint", "--name", "A", "--email", "a@example.com", "--no-log"],
        { home: tempHome(), env: { NODE_ENV } },
      );
      expect(mint.code, NODE_ENV).toBe(1);
      expect(mint.stderr, NODE_ENV).toMatch(/\[DEV_KEY_IN_PRODUCTION\]\n$/);
      expect(mint.stdout).toBe("");
      const status = await runInProcess(["status"], { home: tempHome(), env: { NODE_ENV } });
      expect(status.stderr, NODE_ENV).toMatch(/\[DEV_KEY_IN_PRODUCTION\]\n$/);
    }
  });

  it("doctor counts every production spelling as production", async () => {
    for (const NODE_ENV of ["Production", "prod", "staging"]) {
      // An unreachable database keeps the run short; only the key findings matter here.
      const r = await runInProcess(["doctor", "--json"], {
        home,
        env: { NODE_ENV, DATABASE_URL: "postgres://datatools@127.0.0.1:9/licenses" },
      });
      const out = JSON.parse(r.stdout) as { findings: { check: string; level: string }[] };
      expect(out.findings, NODE_ENV).toContainEqual(
        expect.objectContaining({ check: "development key", level: "problem" }),
      );
      expect(
        out.findings.map((f) => f.check),
        NODE_ENV,
      ).not.toContain("environment");
      expect(r.code).toBe(1);
    }
  });
});
