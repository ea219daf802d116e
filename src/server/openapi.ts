/**
 * The OpenAPI 3.1 document, generated from the routes' schemas (src/server/schemas.ts)
 * by @fastify/swagger and served, without auth, at `GET /openapi.json`.
 */
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import Type from "typebox";
import { SHARED_SCHEMAS } from "./schemas.js";

/** The document's tags, one per endpoint group. */
export const TAGS = {
  licenses: "licenses",
  verify: "verify",
  tokens: "admin tokens",
  health: "health",
  sales: "store sales",
} as const;

/** The security requirement of the admin endpoints: an admin token as a bearer token. */
export const ADMIN = [{ adminToken: [] }];

/**
 * Adds the shared schemas and registers the generator; call it before any
 * route, so that every route is in the document.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  // Routes whose body may be left out (it reads as `{}`): the generator would call it required.
  const optionalBodies: [path: string, method: "post"][] = [];
  app.addHook("onRoute", (route) => {
    if (route.config?.emptyBodyIsObject && [route.method].flat().includes("POST")) {
      optionalBodies.push([route.url.replace(/:(\w+)/g, "{$1}"), "post"]);
    }
  });
  await app.register(swagger, {
    transformObject: (document) => {
      if (!("openapiObject" in document)) return document.swaggerObject;
      for (const [path, method] of optionalBodies) {
        const body = document.openapiObject.paths?.[path]?.[method]?.requestBody;
        if (body && "required" in body) body.required = false;
      }
      return document.openapiObject;
    },
    // Shared schemas keep their $id as their name in components.schemas.
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "datatools-license server",
        version: "1",
        description:
          "Issue, verify, renew and revoke DTLIC2 licenses. Every error is " +
          '`{"error": {"code", "message", "request_id"}}` with a stable code; see docs/API.md.',
      },
      tags: [
        { name: TAGS.licenses, description: "the license ledger (admin)" },
        { name: TAGS.verify, description: "is a blob genuine, and in what state (public)" },
        { name: TAGS.tokens, description: "the server's admin tokens (admin)" },
        { name: TAGS.health, description: "liveness, readiness, metrics and this document" },
        { name: TAGS.sales, description: "payment webhooks and their events, license e-mails" },
      ],
      components: {
        securitySchemes: {
          adminToken: {
            type: "http",
            scheme: "bearer",
            description:
              "an admin token (dtl_admin_…): written to <data-dir>/admin-token on first start, " +
              "more with dtlicense admin token create",
          },
        },
      },
    },
  });
}

/** `GET /openapi.json`: the document (generated once, on the first request). */
export function registerOpenApiRoute(app: FastifyInstance): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    "/openapi.json",
    {
      schema: {
        tags: [TAGS.health],
        summary: "This API's OpenAPI 3.1 document",
        response: {
          200: Type.Object({}, { additionalProperties: true, description: "the OpenAPI document" }),
        },
      },
    },
    async () => app.swagger(),
  );
}
