/**
 * The machine fingerprint the online check-in sends: the operating system's
 * machine id, hashed so the raw id never leaves the machine. Node built-ins only.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { arch, hostname, platform, userInfo } from "node:os";

/** What the hash is prefixed with, so the fingerprint is of no use to any other product. */
export const FINGERPRINT_PREFIX = "datatools-license/machine/v1:";

/** Where the raw machine id came from. */
export type FingerprintSource = "machine-id" | "ioreg" | "registry" | "fallback";

/** Overrides for {@link machineFingerprint}, for tests and unusual systems. */
export interface FingerprintOptions {
  /** Mixed into the hash: two products on one machine send different fingerprints. Default: "". */
  readonly product?: string;
  /** Default: process.platform. */
  readonly platform?: NodeJS.Platform;
  /** Reads a file; default node:fs readFileSync. */
  readonly readFile?: (path: string) => string;
  /** Runs a program and returns its standard output; default execFileSync with a 5 s timeout. */
  readonly run?: (file: string, args: readonly string[]) => string;
}

const LINUX_ID_FILES = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

/**
 * The raw machine id and where it came from, or undefined when the system has none:
 * Linux `/etc/machine-id` (or `/var/lib/dbus/machine-id`), macOS the IOPlatformUUID
 * from `ioreg -rd1 -c IOPlatformExpertDevice`, Windows the MachineGuid from
 * `reg query HKLM\SOFTWARE\Microsoft\Cryptography /v MachineGuid`.
 */
export function rawMachineId(
  options: FingerprintOptions = {},
): { id: string; source: FingerprintSource } | undefined {
  const os = options.platform ?? platform();
  const read = options.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const run =
    options.run ??
    ((file: string, args: readonly string[]) =>
      execFileSync(file, [...args], {
        encoding: "utf8",
        timeout: 5_000,
        stdio: ["ignore", "pipe", "ignore"],
        windowsHide: true,
      }));
  try {
    if (os === "darwin") {
      const out = run("ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"]);
      const m = /"IOPlatformUUID"\s*=\s*"([^"]+)"/.exec(out);
      return m ? { id: m[1]!, source: "ioreg" } : undefined;
    }
    if (os === "win32") {
      const out = run("reg", [
        "query",
        "HKLM\\SOFTWARE\\Microsoft\\Cryptography",
        "/v",
        "MachineGuid",
      ]);
      const m = /MachineGuid\s+REG_SZ\s+(\S+)/i.exec(out);
      return m ? { id: m[1]!, source: "registry" } : undefined;
    }
  } catch {
    return undefined;
  }
  for (const file of LINUX_ID_FILES) {
    try {
      const id = read(file).trim();
      if (/^[0-9a-f]{32}$/i.test(id)) return { id, source: "machine-id" };
    } catch {
      // Try the next place.
    }
  }
  return undefined;
}

/**
 * This machine's fingerprint: 64 hex characters, the SHA-256 of
 * {@link FINGERPRINT_PREFIX}, the product name and the OS machine id, so the
 * raw id is never sent. A system without a machine id (a minimal container, a
 * BSD) falls back to the hash of the host name, user name, platform and
 * architecture: stable, but two such machines with the same names share a
 * fingerprint (and so a seat), and renaming the host takes a new seat.
 *
 * @example
 * ```ts
 * import { machineFingerprint } from "datatools-license/client";
 *
 * machineFingerprint(); // "9f86d081884c7d65…" (64 hex)
 * ```
 */
export function machineFingerprint(options: FingerprintOptions = {}): string {
  const found = rawMachineId(options);
  const raw = found
    ? `${found.source}:${found.id.toLowerCase()}`
    : `fallback:${safeHostname()}|${safeUser()}|${options.platform ?? platform()}|${arch()}`;
  return createHash("sha256")
    .update(`${FINGERPRINT_PREFIX}${options.product ?? ""}:${raw}`, "utf8")
    .digest("hex");
}

function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return "";
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}
