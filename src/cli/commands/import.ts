/**
 * `dtlicense import issued.jsonl`: load the issuance log into the server's
 * database (directly, or through the API with --url). Every blob is verified
 * and checked against its line; bad lines are reported by number and the rest
 * imported; running it again adds nothing.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { LicenseError, type ErrorCode } from "../../core/errors.js";
import { parseLog } from "../../issuer/log.js";
import type { ImportSummary, Rejection } from "../../service/imports.js";
import { apiTarget, callApi, remoteOptions, type ApiTarget, type RemoteOptions } from "../api.js";
import type { CliContext } from "../context.js";
import { loadKeys } from "../keys.js";
import { withService } from "../open.js";
import type { Wrap } from "../program.js";

interface ImportOptions extends RemoteOptions {
  json?: boolean;
}

// Records per API request (the server's limit is 1000).
const API_BATCH = 1000;
// Below this many lines, starting worker threads costs more than it saves.
const POOL_THRESHOLD = 4000;

function progress(ctx: CliContext): (done: number, total: number) => void {
  if (!ctx.interactive) return () => undefined;
  let last = -1;
  return (done, total) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (pct === last) return;
    last = pct;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    ctx.stderr.write(
      `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${pct}% ${done}/${total}`,
    );
    if (done >= total) ctx.stderr.write("\n");
  };
}

export function registerImport(program: Command, ctx: CliContext, wrap: Wrap): void {
  remoteOptions(
    program
      .command("import")
      .description(
        "Import an issuance log (JSONL) into the license server's database. Verifies every " +
          "blob against the key ring and that each line matches its blob; idempotent.\n" +
          "Exits 1 when any line was rejected.",
      )
      .argument("<file>", "the issuance log, e.g. ~/.datatools-creator/issued.jsonl")
      .option("--json", "print the summary as JSON"),
  ).action(wrap((file: string, opts: ImportOptions) => runImport(ctx, file, opts)));
}

async function runImport(ctx: CliContext, file: string, opts: ImportOptions): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new LicenseError("FILE_UNREADABLE", `cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const target = apiTarget(ctx, opts);
  const onProgress = progress(ctx);
  let summary: ImportSummary;
  if (target) {
    summary = await viaApi(target, text, onProgress);
  } else {
    const keys = loadKeys(ctx);
    const { availableParallelism } = await import("node:os");
    // Signature checks are most of a large import's work; spread them over the cores.
    const pool =
      lineCount(text) >= POOL_THRESHOLD && availableParallelism() > 1
        ? (await import("../../service/verify-pool.js")).createVerifyPool(keys.ring)
        : undefined;
    try {
      const { importLog } = await import("../../service/imports.js");
      summary = await withService(ctx, { dataDir: opts.dataDir, schema: "migrate", keys }, (s) =>
        importLog(
          s,
          text,
          { actor: "import" },
          {
            onProgress,
            // Workers verify a few batches ahead, so they and the database are both kept busy.
            ...(pool
              ? { verify: (blobs: readonly string[]) => pool.verify(blobs), lookahead: 4 }
              : {}),
          },
        ),
      );
    } finally {
      await pool?.close();
    }
  }
  const { rejected } = summary;
  if (opts.json) {
    ctx.stdout.write(
      `${JSON.stringify({ imported: summary.imported, already_present: summary.already_present, rejected })}\n`,
    );
  } else {
    for (const r of rejected)
      ctx.stderr.write(`dtlicense: ${file} line ${r.line}: ${r.reason} [${r.code}]\n`);
    ctx.stdout.write(
      `imported ${summary.imported}, already present ${summary.already_present}, rejected ${rejected.length}\n`,
    );
  }
  return rejected.length > 0 ? 1 : 0;
}

/** Lines in `text` (an upper bound on its records), without splitting it. */
function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * The import through the API, 1000 records a request: the same service
 * operation runs on the server; its rejections come back by index and are
 * put back on this file's lines, with the lines that did not parse here.
 */
async function viaApi(
  target: ApiTarget,
  text: string,
  onProgress: (done: number, total: number) => void,
): Promise<ImportSummary> {
  const { records, problems } = parseLog(text);
  const { withUnreadable } = await import("../../service/imports.js");
  const summary: ImportSummary = { imported: 0, already_present: 0, rejected: [] };
  const rejected: Rejection[] = [];
  for (let start = 0; start < records.length; start += API_BATCH) {
    const batch = records.slice(start, start + API_BATCH);
    const r = await callApi<{
      imported: number;
      already_present: number;
      rejected: { index: number; code: ErrorCode; reason: string }[];
    }>(target, "POST", "/v1/licenses/import", {
      records: batch.map(({ line: _line, ...rest }) => rest),
    });
    summary.imported += r.imported;
    summary.already_present += r.already_present;
    for (const x of r.rejected)
      rejected.push({ line: batch[x.index]!.line, code: x.code, reason: x.reason });
    onProgress(Math.min(start + API_BATCH, records.length), records.length);
  }
  summary.rejected = withUnreadable(problems, rejected);
  return summary;
}
