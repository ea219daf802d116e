/** The admin token endpoints: create (the token is in this one response only), list, revoke. */
import type { FastifyInstance } from "fastify";
import { createToken, listTokens, revokeToken } from "../service/tokens.js";
import { requireAdmin } from "./auth.js";
import type { ServerContext } from "./context.js";

const createSchema = {
  body: {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: { name: { type: "string", maxLength: 200 } },
  },
} as const;

const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", maxLength: 200 } },
} as const;

export function registerTokenRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const onRequest = requireAdmin(ctx);

  app.post("/v1/admin/tokens", { schema: createSchema, onRequest }, async (req, reply) => {
    const created = await createToken(ctx.service, (req.body as { name: string }).name, req.actor);
    req.log.info(
      { token_id: created.id, token_name: created.name, actor: req.actor },
      "admin token created",
    );
    return reply.code(201).send(created);
  });

  app.get("/v1/admin/tokens", { onRequest }, async () => ({
    tokens: await listTokens(ctx.service),
  }));

  app.post(
    "/v1/admin/tokens/:id/revoke",
    { schema: { params: idParams }, onRequest },
    async (req) => {
      const revoked = await revokeToken(ctx.service, (req.params as { id: string }).id);
      req.log.info(
        { token_id: revoked.id, token_name: revoked.name, actor: req.actor },
        "admin token revoked",
      );
      return revoked;
    },
  );
}
