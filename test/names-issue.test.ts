// Names and e-mails that would display as something else are refused by `dtlicense mint` and by
// POST /v1/licenses (nothing signed, logged or stored); licenses already signed with one are
// still activated, verified and imported.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { licensePath } from "../src/client/index.js";
import { runInProcess, tempHome } from "./helpers/cli.js";
import { NOW, sign } from "./client/support.js";
import { REFUSED, hex } from "./helpers/unicode.js";
import { backendNames } from "./store/databases.js";
import { errorOf, json, signer, useHarness } from "./server/harness.js";

const logOf = (home: string) => join(home, ".datatools-creator", "issued.jsonl");
// One of each class (argv cannot carry U+0000, so the C0 case is U+001B ESCAPE).
const SAMPLES = Object.values(REFUSED).map((cps) => (cps[0] === 0 ? 0x1b : cps[0]!));
const RLO = "Ada \u202eecalevoL";

describe("dtlicense mint", () => {
  it("refuses each class of character in --name and --email: exit 1, the code, nothing signed or logged", async () => {
    for (const cp of SAMPLES) {
      const c = String.fromCodePoint(cp);
      for (const [flag, value, code, position] of [
        ["--name", `Ada ${c}Lovelace`, "NAME_INVALID", 5],
        ["--email", `ada${c}@example.com`, "EMAIL_INVALID", 4],
      ] as const) {
        const home = tempHome();
        const args = { "--name": "Ada Lovelace", "--email": "ada@example.com", [flag]: value };
        const r = await runInProcess(
          ["mint", "--name", args["--name"], "--email", args["--email"]],
          { home, now: NOW },
        );
        expect(r.code, `${hex(cp)} in ${flag}`).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(`${hex(cp)}`);
        expect(r.stderr).toContain(`at position ${position}`);
        expect(r.stderr).toMatch(new RegExp(`\\[${code}\\]\\n$`));
        expect(r.stderr).not.toContain(c);
        expect(existsSync(logOf(home))).toBe(false);
      }
    }
  });
});

describe("dtlicense activate", () => {
  it("activates a license already signed with a bidi override in the name", async () => {
    const home = tempHome();
    const blob = sign({ name: RLO, email: "ada\u200b@example.com" });
    const r = await runInProcess(
      ["activate", blob, "--name", RLO, "--email", "ada\u200b@example.com"],
      { home, now: NOW },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(licensePath(home))).toBe(true);
  });
});

describe.each(backendNames())("the license server on %s", (backend) => {
  const h = useHarness(backend);
  const auth = () => ({ authorization: `Bearer ${h.token}` });

  it("refuses POST /v1/licenses for each class of character, storing nothing", async () => {
    for (const cp of SAMPLES) {
      const c = String.fromCodePoint(cp);
      for (const [payload, code] of [
        [{ name: `Ada ${c}Lovelace`, email: "ada@example.com", tier: "pro" }, "NAME_INVALID"],
        [{ name: "Ada Lovelace", email: `ada${c}@example.com`, tier: "pro" }, "EMAIL_INVALID"],
      ] as const) {
        const res = await h.app.inject({
          method: "POST",
          url: "/v1/licenses",
          headers: auth(),
          payload,
        });
        expect([400, 422], `${hex(cp)}: ${res.body}`).toContain(res.statusCode);
        expect(errorOf(res).code).toBe(code);
        expect(errorOf(res).message).toContain(hex(cp));
      }
    }
    expect(await h.count("licenses")).toBe(0);
    expect(await h.count("events")).toBe(0);
  });

  it("verifies and imports a license already signed with such a name", async () => {
    const email = "ada\u200b@example.com";
    const blob = sign({ name: RLO, email }, signer);
    const verified = await h.app.inject({
      method: "POST",
      url: "/v1/licenses/verify",
      payload: { blob },
    });
    expect(json(verified)).toMatchObject({ genuine: true, code: "UNKNOWN" });
    const record = {
      license_key: "DT1-CORE-00000000-00000000",
      name: RLO,
      email,
      tier: "core",
      issued_at: "2026-05-13T22:10:27Z",
      expires_at: "2027-05-13T22:10:27Z",
      blob,
    };
    const imported = await h.app.inject({
      method: "POST",
      url: "/v1/licenses/import",
      headers: auth(),
      payload: { records: [record] },
    });
    expect(json(imported), imported.body).toMatchObject({ imported: 1, rejected: [] });
    const stored = await h.app.inject({
      method: "GET",
      url: `/v1/licenses/${record.license_key}`,
      headers: auth(),
    });
    expect(json(stored)).toMatchObject({ name: RLO, email });
    expect(
      json(await h.app.inject({ method: "POST", url: "/v1/licenses/verify", payload: { blob } })),
    ).toMatchObject({ genuine: true, code: "VALID" });
  });
});
