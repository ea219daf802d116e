// Deeply nested JSON bodies: every endpoint refuses them as bad input, before parsing,
// with no 500, nothing written and no stack trace in the log.
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../src/server/app.js";
import { backendNames } from "../store/databases.js";
import { errorOf, useHarness } from "./harness.js";

/** `{"<field>": [[[…]]]}` with `depth` levels in all. */
const nestedArrays = (field: string, depth: number) =>
  `{"${field}":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;
/** `{"<field>": {"a": {"a": …}}}` with `depth` levels in all. */
const nestedObjects = (field: string, depth: number) =>
  `{"${field}":${'{"a":'.repeat(depth - 2)}{}${"}".repeat(depth - 2)}}`;

describe.each(backendNames())("deeply nested JSON on %s", (backend) => {
  const h = useHarness(backend);

  // Every POST endpoint, with a field its schema knows (so only the nesting is wrong).
  const ENDPOINTS: [string, string, boolean][] = [
    ["/v1/licenses/verify", "blob", false],
    ["/v1/licenses", "name", true],
    ["/v1/licenses/import", "records", true],
    ["/v1/licenses/DT1-PRO-AAAA-BBBB-CCCC/revoke", "reason", true],
    ["/v1/licenses/DT1-PRO-AAAA-BBBB-CCCC/suspend", "reason", true],
    ["/v1/licenses/DT1-PRO-AAAA-BBBB-CCCC/reinstate", "reason", true],
    ["/v1/licenses/DT1-PRO-AAAA-BBBB-CCCC/renew", "years", true],
    ["/v1/admin/tokens", "name", true],
    ["/v1/admin/tokens/1/revoke", "name", true],
  ];
  // 7,900 fills most of the 16 KB limit; the import endpoint takes up to 8 MB, so 1,000,000 reaches it.
  const DEPTHS = [MAX_JSON_DEPTH + 1, 4_000, 7_900, 10_000, 100_000, 1_000_000];

  for (const [url, field, admin] of ENDPOINTS) {
    it(`refuses nesting up to ${DEPTHS.at(-1)} deep on POST ${url} with a 4xx and a code, writing nothing and logging no stack`, async () => {
      for (const depth of DEPTHS) {
        for (const payload of [nestedArrays(field, depth), nestedObjects(field, depth)]) {
          const res = await h.app.inject({
            method: "POST",
            url,
            payload,
            headers: {
              "content-type": "application/json",
              ...(admin ? { authorization: `Bearer ${h.token}` } : {}),
            },
          });
          const limit = url.endsWith("/import") ? 8 * 1024 * 1024 : 16 * 1024;
          if (payload.length > limit) {
            expect(res.statusCode, `${depth}: ${res.body}`).toBe(413);
            expect(errorOf(res).code).toBe("REQUEST_TOO_LARGE");
          } else {
            expect(res.statusCode, `${depth}: ${res.body}`).toBe(400);
            expect(errorOf(res).code).toBe("REQUEST_INVALID");
            expect(errorOf(res).message).toContain(`${MAX_JSON_DEPTH} levels`);
          }
        }
      }
      expect(await h.count("licenses")).toBe(0);
      expect(await h.count("events")).toBe(0);
      expect(await h.count("idempotency_keys")).toBe(0);
      const { rows } = await h.t.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM admin_tokens WHERE revoked_at IS NULL",
      );
      expect(Number(rows[0]!.n)).toBe(1);
      const logs = h.logs.join("\n");
      expect(logs).not.toMatch(/"stack"|\\n\s+at |RangeError|Maximum call stack/);
      expect(logs).not.toContain('"level":50');
    });
  }

  it(`accepts nesting of exactly ${MAX_JSON_DEPTH} levels (the body reaches the schema check)`, async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/licenses/verify",
      payload: nestedArrays("blob", MAX_JSON_DEPTH),
      headers: { "content-type": "application/json" },
    });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe("REQUEST_INVALID");
    expect(errorOf(res).message).toMatch(/body\.blob must be string/);
  });

  it("counts only brackets outside strings, so brackets inside text are not nesting", async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/licenses/verify",
      payload: JSON.stringify({ blob: `${"[{".repeat(5_000)}\\"\u00e9` }),
      headers: { "content-type": "application/json" },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ genuine: false });
  });

  it("still refuses prototype poisoning in a body", async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/admin/tokens",
      payload: '{"name":"x","__proto__":{"admin":true}}',
      headers: { "content-type": "application/json", authorization: `Bearer ${h.token}` },
    });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe("REQUEST_INVALID");
    expect(await h.count("admin_tokens")).toBe(1);
  });

  it("refuses NUL in deeply placed text without a stack overflow", async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/licenses/import",
      payload: { records: [{ a: [[[["x\u0000"]]]] }] },
      headers: { authorization: `Bearer ${h.token}` },
    });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).message).toContain("NUL");
  });
});
