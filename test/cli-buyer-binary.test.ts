// The packaged single-executable binary (scripts/build-binary.mjs), built once with the
// development key and once with a vendor key. Slow: each build copies the node binary.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADA,
  DEV_PUB,
  VENDOR_PUB,
  fileBytes,
  mint,
  tempHome,
  vendorSigner,
} from "./client/support.js";

const SCRIPT = resolve(import.meta.dirname, "../scripts/build-binary.mjs");
const work = mkdtempSync(join(tmpdir(), "dtl-binary-"));

function runBuild(out: string, pubkey: string | undefined, catalogue?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATATOOLS_LICENSE_PUBKEY;
  delete env.DATATOOLS_CATALOGUE;
  if (pubkey !== undefined) env.DATATOOLS_LICENSE_PUBKEY = pubkey;
  if (catalogue !== undefined) env.DATATOOLS_CATALOGUE = catalogue;
  return spawnSync(process.execPath, [SCRIPT, "--out", out], { env, encoding: "utf8" });
}

function buildBinary(name: string, pubkey: string | undefined): string {
  const out = join(work, name);
  const r = runBuild(out, pubkey);
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  return out;
}

function run(binary: string, argv: string[], env: Record<string, string> = {}) {
  const r = spawnSync(binary, argv, {
    env: { PATH: process.env.PATH, ...env },
    encoding: "utf8",
    input: "",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("building the binary", () => {
  it("fails, writing no binary, when DATATOOLS_CATALOGUE is not a valid catalogue", () => {
    const catalogue = join(work, "bad-catalogue.json");
    writeFileSync(catalogue, JSON.stringify({ features: [{ id: "x", name: "X" }], tiers: {} }));
    const out = join(work, "never-built");
    const r = runBuild(out, VENDOR_PUB, catalogue);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^build-binary: DATATOOLS_CATALOGUE \(.*\): tiers\.lite must be an array/,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe("the binary built without DATATOOLS_LICENSE_PUBKEY (dev key baked in)", () => {
  let binary: string;
  beforeAll(() => {
    binary = buildBinary("dtlicense-dev", undefined);
  });

  it("refuses to start, with a clear message and a non-zero exit", () => {
    for (const argv of [["status"], ["--version"]]) {
      const r = run(binary, argv, { HOME: tempHome() });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(
        /^dtlicense: this packaged build trusts the public development key .*rebuild it with DATATOOLS_LICENSE_PUBKEY set to the vendor's public key .*\[DEV_KEY_IN_PRODUCTION\]\n$/,
      );
    }
  });
});

describe("the binary built with the vendor's key", () => {
  let binary: string;
  beforeAll(() => {
    binary = buildBinary("dtlicense", VENDOR_PUB);
  });

  it("runs status", () => {
    const r = run(binary, ["status"], { HOME: tempHome() });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^State: +none$/m);
  });

  it("activates a license signed by that key", () => {
    const home = tempHome();
    const { blob } = mint({}, new Date(), vendorSigner);
    const r = run(binary, ["activate", blob, "--name", ADA.name, "--email", ADA.email], {
      HOME: home,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const status = run(binary, ["status", "--json"], { HOME: home });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).state).toBe("active");
  });

  it("refuses a dev-key license even when DATATOOLS_LICENSE_PUBKEY names the dev key", () => {
    const home = tempHome();
    run(
      binary,
      [
        "activate",
        mint({}, new Date(), vendorSigner).blob,
        "--name",
        ADA.name,
        "--email",
        ADA.email,
      ],
      {
        HOME: home,
      },
    );
    const before = fileBytes(home);
    const devBlob = mint({}, new Date()).blob;
    const envs: Record<string, string>[] = [
      {},
      { DATATOOLS_LICENSE_PUBKEY: DEV_PUB },
      { DATATOOLS_LICENSE_PUBKEY: `${DEV_PUB},${VENDOR_PUB}` },
    ];
    for (const env of envs) {
      const r = run(
        binary,
        ["activate", devBlob, "--name", ADA.name, "--email", ADA.email, "--force"],
        { HOME: home, ...env },
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/which this build does not trust \[KEY_UNKNOWN\]\n$/);
    }
    expect(fileBytes(home)).toEqual(before);
  });

  it("ignores DATATOOLS_CATALOGUE, so a lite buyer cannot unlock every feature", () => {
    const home = tempHome();
    const { blob } = mint({ tier: "lite" }, new Date(), vendorSigner);
    run(binary, ["activate", blob, "--name", ADA.name, "--email", ADA.email], { HOME: home });
    const catalogue = join(home, "all-features.json");
    writeFileSync(
      catalogue,
      JSON.stringify({
        features: [
          { id: "deduplicator", name: "Deduplicator" },
          { id: "pivot-builder", name: "Pivot Builder" },
        ],
        tiers: { lite: ["deduplicator", "pivot-builder"], core: [], pro: [] },
      }),
    );
    const r = run(binary, ["status", "--json"], { HOME: home, DATATOOLS_CATALOGUE: catalogue });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).features).toEqual([
      "deduplicator",
      "text-cleaner",
      "format-standardizer",
    ]);
  });

  it("carries only the buyer commands", () => {
    const r = run(binary, ["mint", "--name", "x", "--email", "a@b.co"], { HOME: tempHome() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'mint'/);
  });
});
