/** `dtlicense keypair`: make the production signing keypair. */
import type { Command } from "commander";
import { generateKeypair } from "../../core/keys.js";
import { PRIVKEY_VAR, PUBKEY_VAR } from "../../config/keys.js";
import { writeFileAtomic } from "../../config/fs-safe.js";
import type { CliContext } from "../context.js";
import type { Wrap } from "../program.js";

export function registerKeypair(program: Command, ctx: CliContext, wrap: Wrap): void {
  program
    .command("keypair")
    .description(
      "Generate a new Ed25519 signing keypair (run once, before the first paid release).\n" +
        "Store the private key in a password manager or KMS, then delete the file.",
    )
    .option(
      "-o, --output <file>",
      "write the two KEY=hex lines (an env file: comments on lines of their own) to this file (mode 600)",
    )
    .option("--force", "overwrite --output if it exists")
    .option("--json", "print {private_key, public_key, kid} as JSON instead")
    .action(
      wrap((opts: { output?: string; force?: boolean; json?: boolean }) => {
        const pair = generateKeypair();
        const text = opts.json
          ? JSON.stringify({
              private_key: pair.privateKeyHex,
              public_key: pair.publicKeyHex,
              kid: pair.kid,
            }) + "\n"
          : // Comments on lines of their own: docker --env-file and systemd's EnvironmentFile=
            // take everything after "=" as the value, a trailing "# …" included.
            `# DataTools license signing keypair, key id ${pair.kid} (dtlicense keypair)\n` +
            "# KEEP SECRET: the private key. Store it in two safe places, then delete this file.\n" +
            `${PRIVKEY_VAR}=${pair.privateKeyHex}\n` +
            "# BAKE INTO BUILD: the public key the app embeds (docs/BUILD.md).\n" +
            `${PUBKEY_VAR}=${pair.publicKeyHex}\n`;
        if (opts.output) {
          writeFileAtomic(opts.output, text, { mode: 0o600, overwrite: Boolean(opts.force) });
          ctx.stderr.write(
            `dtlicense: wrote ${opts.output} (mode 600), key id ${pair.kid}. ` +
              "Store the private key in two safe places, then delete the file.\n",
          );
        } else {
          ctx.stdout.write(text);
        }
      }),
    );
}
