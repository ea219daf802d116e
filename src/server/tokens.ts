/** The admin token endpoints: create (the token is in this one response only), list, revoke. */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { createToken, listTokens, revokeToken } from "../service/tokens.js";
import { requireAdmin } from "./auth.js";
import type { ServerContext } from "./context.js";
import { ADMIN, TAGS } from "./openapi.js";
import {
  AdminToken,
  CreatedToken,
  TokenBody,
  TokenList,
  TokenParams,
  errorResponses,
} from "./schemas.js";

export function registerTokenRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const onRequest = requireAdmin(ctx);

  r.post(
    "/v1/admin/tokens",
    {
      schema: {
        tags: [TAGS.tokens],
        summary: "Create an admin token",
        description: "The token is in this response only; the server keeps its SHA-256.",
        security: ADMIN,
        body: TokenBody,
        response: { 201: CreatedToken, ...errorResponses(400, 401, 413, 415) },
      },
      onRequest,
    },
    async (req, reply) => {
      const created = await createToken(ctx.service, req.body.name, req.actor);
      req.log.info(
        { token_id: created.id, token_name: created.name, actor: req.actor },
        "admin token created",
      );
      return reply.code(201).send(created);
    },
  );

  r.get(
    "/v1/admin/tokens",
    {
      schema: {
        tags: [TAGS.tokens],
        summary: "List admin tokens",
        description: "Live and revoked, oldest first; never the tokens or their hashes.",
        security: ADMIN,
        response: { 200: TokenList, ...errorResponses(401) },
      },
      onRequest,
    },
    async () => ({ tokens: await listTokens(ctx.service) }),
  );

  r.post(
    "/v1/admin/tokens/:id/revoke",
    {
      schema: {
        tags: [TAGS.tokens],
        summary: "Revoke an admin token",
        description: "By id or name; takes effect at once on every server process.",
        security: ADMIN,
        params: TokenParams,
        response: { 200: AdminToken, ...errorResponses(401, 404) },
      },
      onRequest,
    },
    async (req) => {
      const revoked = await revokeToken(ctx.service, req.params.id);
      req.log.info(
        { token_id: revoked.id, token_name: revoked.name, actor: req.actor },
        "admin token revoked",
      );
      return revoked;
    },
  );
}
