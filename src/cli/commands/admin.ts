/**
 * `dtlicense admin token create|list|revoke|generate`: admin tokens, managed
 * over the API (with --url and an admin token, or the API of the server that
 * holds the embedded database open) or directly in the configured database,
 * through the same service operations the API uses. `create` prints the new
 * token alone on stdout; it is shown once.
 */
import type { Command } from "commander";
import type { AdminToken, CreatedToken } from "../../service/tokens.js";
import { apiTarget, callApi, remoteOptions, type RemoteOptions } from "../api.js";
import type { CliContext } from "../context.js";
import { withService } from "../open.js";
import type { Wrap } from "../program.js";

export function registerAdmin(program: Command, ctx: CliContext, wrap: Wrap): void {
  const admin = program.command("admin").description("License server administration");
  const token = admin
    .command("token")
    .description("Admin tokens for the server's API (stored only as hashes)");

  remoteOptions(
    token
      .command("create")
      .description("create an admin token and print it alone on stdout (it is shown only once)")
      .requiredOption(
        "--name <name>",
        "what the token is for, e.g. 'ops laptop' (shown in the audit trail)",
      ),
  ).action(
    wrap(async (opts: RemoteOptions & { name: string }) => {
      const target = apiTarget(ctx, opts);
      const created = target
        ? await callApi<CreatedToken>(target, "POST", "/v1/admin/tokens", { name: opts.name })
        : await withService(ctx, { dataDir: opts.dataDir, schema: "migrate" }, async (service) => {
            const { createToken } = await import("../../service/tokens.js");
            return createToken(service, opts.name, "cli");
          });
      ctx.stdout.write(`${created.token}\n`);
      ctx.stderr.write(
        `dtlicense: created admin token ${created.id} "${created.name}"; store it now, it is not shown again\n`,
      );
    }),
  );

  remoteOptions(
    token
      .command("list")
      .description("list admin tokens (never the tokens themselves)")
      .option("--json", "print JSON"),
  ).action(
    wrap(async (opts: RemoteOptions & { json?: boolean }) => {
      const target = apiTarget(ctx, opts);
      const tokens = target
        ? (await callApi<{ tokens: AdminToken[] }>(target, "GET", "/v1/admin/tokens")).tokens
        : await withService(ctx, { dataDir: opts.dataDir, schema: "require" }, async (service) => {
            const { listTokens } = await import("../../service/tokens.js");
            return listTokens(service);
          });
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
        return;
      }
      for (const t of tokens) {
        const state = t.revoked_at ? `revoked ${t.revoked_at}` : "live";
        ctx.stdout.write(
          `${String(t.id).padEnd(5)} ${t.name.padEnd(24)} ${state.padEnd(34)} last used ${t.last_used_at ?? "never"}\n`,
        );
      }
    }),
  );

  remoteOptions(
    token
      .command("revoke")
      .description("revoke a live token by id or name")
      .argument("<id-or-name>"),
  ).action(
    wrap(async (idOrName: string, opts: RemoteOptions) => {
      const target = apiTarget(ctx, opts);
      const revoked = target
        ? await callApi<AdminToken>(
            target,
            "POST",
            `/v1/admin/tokens/${encodeURIComponent(idOrName)}/revoke`,
          )
        : await withService(ctx, { dataDir: opts.dataDir, schema: "migrate" }, async (service) => {
            const { revokeToken } = await import("../../service/tokens.js");
            return revokeToken(service, idOrName);
          });
      ctx.stderr.write(`dtlicense: revoked admin token ${revoked.id} "${revoked.name}"\n`);
    }),
  );

  token
    .command("generate")
    .description(
      "print a new random token without storing it, for DATATOOLS_ADMIN_TOKEN_FILE " +
        "(the server stores its hash on first start)",
    )
    .action(
      wrap(async () => {
        const { generateToken } = await import("../../service/tokens.js");
        ctx.stdout.write(`${generateToken()}\n`);
      }),
    );
}
