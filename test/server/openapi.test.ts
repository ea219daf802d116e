// GET /openapi.json: generated from the routes' schemas, a valid OpenAPI 3.1 document,
// true to what the server does, and in step with docs/API.md.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TIERS } from "../../src/core/catalogue.js";
import { LICENSE_FIELDS, LICENSE_STATES } from "../../src/store/licenses.js";
import { createHarness, json, type Harness } from "./harness.js";

const API_MD = resolve(import.meta.dirname, "../../docs/API.md");
const METHODS = ["get", "post", "put", "patch", "delete"] as const;

interface Operation {
  security?: Record<string, string[]>[];
  tags?: string[];
  summary?: string;
  parameters?: { name: string; in: string; schema: { enum?: string[] } }[];
  requestBody?: { required?: boolean };
  responses: Record<string, unknown>;
}
interface Document {
  openapi: string;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components: {
    schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }>;
    securitySchemes: Record<string, { type: string; scheme?: string }>;
  };
}

/** `METHOD /path` with path parameters' names left out: `POST /v1/licenses/{}/renew`. */
const normal = (method: string, path: string) =>
  `${method.toUpperCase()} ${path.replace(/\{[^}]*\}/g, "{}")}`;

/** Every operation of the document. */
function operations(doc: Document): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => [m, path, item[m]!] as [string, string, Operation]),
  );
}

/** Every `METHOD /path` docs/API.md names in backticks. */
function documented(): Set<string> {
  const text = readFileSync(API_MD, "utf8");
  const found = new Set<string>();
  for (const m of text.matchAll(/`(GET|POST|PUT|PATCH|DELETE|HEAD) (\/[^`\s]*)`/g)) {
    found.add(normal(m[1]!, m[2]!));
  }
  return found;
}

const PUBLIC = new Set([
  "GET /healthz",
  "GET /readyz",
  "GET /metrics",
  "GET /openapi.json",
  "POST /v1/licenses/verify",
  "POST /v1/webhooks/stripe",
  "POST /v1/webhooks/lemonsqueezy",
  "POST /v1/activations",
  "POST /v1/activations/release",
  "POST /v1/check-in",
  "GET /v1/revocations",
]);

describe("the OpenAPI document", () => {
  let h: Harness;
  let doc: Document;
  let raw: Record<string, unknown>;
  beforeAll(async () => {
    h = await createHarness("pglite");
    await h.reset();
    const res = await h.app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    doc = json<Document>(res);
    raw = json(res);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("is served without a token and validates as OpenAPI 3.1", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(raw);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("names in docs/API.md every endpoint the server has, and nothing it does not have", () => {
    const served = new Set(operations(doc).map(([m, p]) => normal(m, p)));
    const inDocs = documented();
    expect(
      [...served].filter((op) => !inDocs.has(op)),
      "served but not in docs/API.md",
    ).toEqual([]);
    expect(
      [...inDocs].filter((op) => !served.has(op)),
      "in docs/API.md but not served",
    ).toEqual([]);
    expect(served.size).toBeGreaterThanOrEqual(17);
  });

  it("gives every operation a tag, a summary and its error responses", () => {
    for (const [method, path, op] of operations(doc)) {
      const what = `${method} ${path}`;
      expect(op.tags?.length, what).toBeGreaterThan(0);
      expect(op.summary, what).toMatch(/\w/);
      expect(
        Object.keys(op.responses).some((s) => /^2/.test(s)),
        what,
      ).toBe(true);
      if (path !== "/healthz" && path !== "/metrics" && path !== "/openapi.json") {
        expect(Object.keys(op.responses), what).toContain("5XX");
      }
    }
  });

  it("asks for the bearer token on exactly the endpoints that refuse a request without one", async () => {
    expect(doc.components.securitySchemes.adminToken).toEqual(
      expect.objectContaining({ type: "http", scheme: "bearer" }),
    );
    for (const [method, path, op] of operations(doc)) {
      const id = normal(method, path);
      const url = path.replace(/\{[^}]*\}/g, "DT1-CORE-00000000-00000000");
      const res = await h.app.inject({
        method: method.toUpperCase() as "GET",
        url,
        ...(method === "post" ? { payload: {} } : {}),
      });
      if (PUBLIC.has(id)) {
        expect(op.security, id).toBeUndefined();
        expect(res.statusCode, id).not.toBe(401);
      } else {
        expect(op.security, id).toEqual([{ adminToken: [] }]);
        expect(op.responses, id).toHaveProperty("401");
        expect(res.statusCode, id).toBe(401);
      }
    }
  });

  it("documents the list filters' allowed values and the renew body as optional", () => {
    const params = doc.paths["/v1/licenses"]!.get!.parameters!;
    expect(params.find((p) => p.name === "tier")!.schema.enum).toEqual([...TIERS]);
    expect(params.find((p) => p.name === "state")!.schema.enum).toEqual([...LICENSE_STATES]);
    expect(doc.paths["/v1/licenses/{key}/renew"]!.post!.requestBody!.required).toBe(false);
    expect(doc.paths["/v1/licenses"]!.post!.requestBody!.required).toBe(true);
  });

  it("describes the license object with exactly the fields the API returns", async () => {
    const license = doc.components.schemas.License!;
    expect(new Set(license.required)).toEqual(new Set(LICENSE_FIELDS));
    expect(new Set(Object.keys(license.properties!))).toEqual(new Set(LICENSE_FIELDS));
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/licenses",
      headers: { authorization: `Bearer ${h.token}` },
      payload: { name: "Ada Lovelace", email: "ada@example.com", tier: "pro" },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(Object.keys(json(res))).toEqual([...LICENSE_FIELDS]);
  });
});
