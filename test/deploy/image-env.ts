// The production image's environment, read from deploy/Dockerfile and deploy/compose.yaml, and a
// runner that starts the image's dtlicense (node dist/cli/main.js) with exactly that environment,
// as the image's user (uid 10001) when the tests run as root.
import { spawn } from "node:child_process";
import { chownSync, readFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import type { CliResult } from "../helpers/cli.js";

const ROOT = resolve(import.meta.dirname, "../..");
/** What /usr/local/bin/dtlicense is in the image (deploy/Dockerfile links it). */
export const IMAGE_CLI = join(ROOT, "dist", "cli", "main.js");
/** The image's user and group (deploy/Dockerfile USER, compose's DATATOOLS_UID default). */
export const IMAGE_UID = 10001;
/** What Docker sets HOME to for the image's user (its passwd entry). */
export const IMAGE_HOME = "/nonexistent";

const AS_ROOT = process.getuid?.() === 0;

/** The variables the runtime stage of deploy/Dockerfile sets with ENV. */
export function dockerfileEnv(): Record<string, string> {
  const text = readFileSync(join(ROOT, "deploy", "Dockerfile"), "utf8");
  const runtime = text.split(/^FROM /m).at(-1) ?? "";
  const env: Record<string, string> = {};
  for (const m of runtime.matchAll(/^ENV\s+((?:[^\n]*\\\n)*[^\n]*)$/gm)) {
    for (const pair of m[1]!.replace(/\\\n/g, " ").trim().split(/\s+/)) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new Error(`deploy/Dockerfile: cannot read ENV ${pair}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/**
 * The variables deploy/compose.yaml sets for the api service (block-style `KEY: value` lines),
 * as with an empty compose.env: a value `${NAME:-default}` is its default.
 */
export function composeApiEnv(): Record<string, string> {
  const lines = readFileSync(join(ROOT, "deploy", "compose.yaml"), "utf8").split("\n");
  const env: Record<string, string> = {};
  let inApi = false;
  let inEnv = false;
  for (const line of lines) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const indent = line.length - line.trimStart().length;
    if (indent <= 2) inApi = line === "  api:";
    if (indent <= 4) inEnv = inApi && line === "    environment:";
    const kv = /^ {6}([A-Za-z0-9_]+):\s*(.*)$/.exec(line);
    if (inEnv && kv) {
      env[kv[1]!] = kv[2]!
        .replace(/^(["'])(.*)\1$/, "$2")
        .replace(/^\$\{[A-Za-z0-9_]+:-(.*)\}$/, "$1");
    }
  }
  return env;
}

/** Where deploy/compose.yaml mounts the config folder (the products file) in the api container. */
export const CONFIG_MOUNT = "/etc/datatools-license";

/** Where the container's paths are on this machine. */
export interface HostPaths {
  /** Stands for /run/secrets. */
  readonly secretsDir: string;
  /** Stands for DATATOOLS_DATA_DIR (/var/lib/datatools-license). */
  readonly dataDir: string;
  /** Stands for the mounted config folder (/etc/datatools-license: the products file). */
  readonly configDir?: string;
  /** Stands for the compose project's PostgreSQL; undefined: the embedded database instead. */
  readonly databaseUrl?: string;
}

/**
 * The environment of `docker run <image> dtlicense …` (Dockerfile only) or, with
 * `compose`, of `docker compose exec api dtlicense …`, with container paths
 * replaced by `paths`; nothing else from this process leaks in.
 */
export function imageEnv(paths: HostPaths, compose = false): Record<string, string> {
  const env: Record<string, string> = {
    ...dockerfileEnv(),
    ...(compose ? composeApiEnv() : {}),
    // The node image's PATH, with this machine's node first.
    PATH: [dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(delimiter),
    HOME: IMAGE_HOME,
  };
  for (const [k, v] of Object.entries(env)) {
    if (v.startsWith("/run/secrets/")) env[k] = join(paths.secretsDir, v.slice(13));
    if (v.startsWith(`${CONFIG_MOUNT}/`) && paths.configDir !== undefined) {
      env[k] = join(paths.configDir, v.slice(CONFIG_MOUNT.length + 1));
    }
  }
  env.DATATOOLS_DATA_DIR = paths.dataDir;
  if (compose) {
    if (paths.databaseUrl !== undefined) env.DATABASE_URL = paths.databaseUrl;
    else {
      delete env.DATABASE_URL;
      delete env.DATABASE_PASSWORD_FILE;
    }
  }
  return env;
}

/** Hands folders and files to the image's user, as the runbook's chown does (only as root). */
export function giveToImageUser(...paths: string[]): void {
  if (AS_ROOT) for (const p of paths) chownSync(p, IMAGE_UID, IMAGE_UID);
}

/** The uid the image's commands run as here: 10001 as root, else this user. */
export const commandUid = (): number => (AS_ROOT ? IMAGE_UID : process.getuid!());

/** Runs the image's `dtlicense argv…` with exactly `env`, as the image's user when root. */
export function runImageCli(
  argv: readonly string[],
  env: Record<string, string>,
  input = "",
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [IMAGE_CLI, ...argv], {
      env,
      cwd: "/",
      stdio: ["pipe", "pipe", "pipe"],
      ...(AS_ROOT ? { uid: IMAGE_UID, gid: IMAGE_UID } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}
