// The typed API contract: request data comes from the route schemas (no casts), enums are
// checked by the schema with the same codes and messages as before.
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { errorOf, useHarness } from "./harness.js";

const SERVER = resolve(import.meta.dirname, "../../src/server");

describe("the typed API contract", () => {
  const h = useHarness("pglite");
  const auth = () => ({ authorization: `Bearer ${h.token}` });
  const buyer = { name: "Ada Lovelace", email: "ada@example.com", tier: "pro" };

  it("refuses an unknown tier, in the body or the query, with core's TIER_UNKNOWN and message", async () => {
    const message = 'unknown tier "gold"; use one of: lite, core, pro';
    const body = await h.app.inject({
      method: "POST",
      url: "/v1/licenses",
      headers: auth(),
      payload: { ...buyer, tier: "gold" },
    });
    expect(body.statusCode).toBe(400);
    expect(errorOf(body)).toMatchObject({ code: "TIER_UNKNOWN", message });
    const query = await h.app.inject({
      method: "GET",
      url: "/v1/licenses?tier=gold",
      headers: auth(),
    });
    expect(query.statusCode).toBe(400);
    expect(errorOf(query)).toMatchObject({ code: "TIER_UNKNOWN", message });
    expect(await h.count("licenses")).toBe(0);
  });

  it("refuses a tier that is not text as a wrong type, and names the allowed states", async () => {
    const wrongType = await h.app.inject({
      method: "POST",
      url: "/v1/licenses",
      headers: auth(),
      payload: { ...buyer, tier: 5 },
    });
    expect(errorOf(wrongType)).toMatchObject({
      code: "REQUEST_INVALID",
      message: "body.tier must be string",
    });
    const state = await h.app.inject({
      method: "GET",
      url: "/v1/licenses?state=dormant",
      headers: auth(),
    });
    expect(state.statusCode).toBe(400);
    expect(errorOf(state)).toMatchObject({
      code: "REQUEST_INVALID",
      message: "querystring.state must be one of: active, expired, suspended, revoked",
    });
    expect(await h.count("licenses")).toBe(0);
  });

  it("takes request data from the route schemas in src/server, never through a cast", () => {
    const casts: string[] = [];
    for (const name of readdirSync(SERVER).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(join(SERVER, name), "utf8");
      for (const m of text.matchAll(
        /\b(?:req|request)\.(?:body|params|query|headers)\b[^;\n]*?\bas\b/g,
      )) {
        casts.push(`${name}: ${m[0]}`);
      }
    }
    expect(casts).toEqual([]);
  });
});
