/**
 * The online check-in's record on the machine, `<home>/.datatools/online.json`
 * beside license.json, and what it changes in a license's status. The record
 * holds signed answers exactly as received (body and DTL-Signature), so every
 * load re-verifies them: an edited record counts as no good answer at all,
 * which can only make the app more cautious, never unlock anything.
 */
import { readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { verifyAnswer } from "../core/answer.js";
import type { KeyRing } from "../core/keys.js";
import {
  parseRevocationList,
  parseSeatAnswer,
  parseServerTime,
  type RawAnswer,
  type RevocationList,
  type SeatAnswer,
} from "./answers.js";
import { makeStatus, type LicenseStatus, type OnlineSummary, type StatusInput } from "./check.js";
import { ensurePrivateDir, fsyncDir, writeFileAtomic } from "../config/fs-safe.js";
import type { FileLock } from "../config/lock.js";
import { LicenseError } from "../core/errors.js";
import type { Catalogue } from "../core/catalogue.js";

/** The record's file name, in the license's folder. */
export const ONLINE_FILE = "online.json";
/** The version of the record's layout. */
export const ONLINE_FILE_VERSION = 1;
/** How long the last good answer keeps a license usable without a new one by default: 14 days. */
export const DEFAULT_GRACE_MS = 14 * 24 * 60 * 60 * 1000;

const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** Answer codes that vouch for the license on this machine (they start a new grace period). */
export const GOOD_CODES: ReadonlySet<string> = new Set(["VALID", "ACTIVATED", "ALREADY_ACTIVE"]);
/** Answer codes that say this machine holds no seat (the good answer it had no longer counts). */
export const SEATLESS_CODES: ReadonlySet<string> = new Set(["NOT_ACTIVATED", "SEAT_LIMIT_REACHED"]);
/** Answer codes that say the license must stop working. */
export const STOP_CODES: ReadonlySet<string> = new Set(["REVOKED", "SUSPENDED", "EXPIRED"]);

/**
 * The record as stored. Nothing in it is trusted unverified: `server` only
 * says where to check in, and the answers are re-verified on every load.
 */
export interface OnlineRecord {
  readonly version: typeof ONLINE_FILE_VERSION;
  /** The license server this machine was activated with, or null. */
  readonly server: string | null;
  /** The latest answer that vouched for the license: VALID, ACTIVATED or ALREADY_ACTIVE. */
  readonly good: RawAnswer | null;
  /** The latest answer that said REVOKED, SUSPENDED or EXPIRED. */
  readonly stop: RawAnswer | null;
  /** The latest revocation list. */
  readonly revocations: RawAnswer | null;
}

/** What was found at the record's path. */
export type LoadedRecord =
  | { readonly kind: "missing" }
  | { readonly kind: "damaged"; readonly why: string }
  | { readonly kind: "record"; readonly record: OnlineRecord };

/** Where the record of a license file lives. */
export function onlinePath(licenseFile: string): string {
  return join(dirname(licenseFile), ONLINE_FILE);
}

/** A record with nothing in it. */
export const EMPTY_RECORD: OnlineRecord = {
  version: ONLINE_FILE_VERSION,
  server: null,
  good: null,
  stop: null,
  revocations: null,
};

function isRaw(v: unknown): v is RawAnswer {
  const r = v as Record<string, unknown> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.signature === "string" &&
    typeof r.body === "string"
  );
}

/** Reads the record without verifying its answers. */
export function readOnlineRecord(path: string): LoadedRecord {
  let text: string;
  try {
    if (statSync(path).size > MAX_FILE_BYTES) return { kind: "damaged", why: "is far too large" };
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    return { kind: "damaged", why: `cannot be read (${code ?? (err as Error).message})` };
  }
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { kind: "damaged", why: "is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || value.version !== ONLINE_FILE_VERSION) {
    return { kind: "damaged", why: "is not an online check-in record of a known version" };
  }
  const slot = (v: unknown) => (v === null || v === undefined ? null : isRaw(v) ? v : undefined);
  const good = slot(value.good);
  const stop = slot(value.stop);
  const revocations = slot(value.revocations);
  const server = value.server ?? null;
  if (good === undefined || stop === undefined || revocations === undefined) {
    return { kind: "damaged", why: "has answers of the wrong form" };
  }
  if (server !== null && typeof server !== "string") {
    return { kind: "damaged", why: "has a server that is not a string" };
  }
  return {
    kind: "record",
    record: { version: ONLINE_FILE_VERSION, server, good, stop, revocations },
  };
}

/** The record's text: stable field order, two-space indent, final newline. */
export function serializeOnlineRecord(record: OnlineRecord): string {
  const { version, server, good, stop, revocations } = record;
  return `${JSON.stringify({ version, server, good, stop, revocations }, null, 2)}\n`;
}

/**
 * Changes the record atomically (mode 600) while the license file's lock is
 * held. A damaged record is started afresh: its answers were worth nothing.
 */
export function updateOnlineRecord(
  licenseFile: string,
  lock: FileLock,
  change: (current: OnlineRecord) => OnlineRecord,
): OnlineRecord {
  const path = onlinePath(licenseFile);
  const loaded = readOnlineRecord(path);
  const next = change(loaded.kind === "record" ? loaded.record : EMPTY_RECORD);
  ensurePrivateDir(dirname(path));
  if (!lock.held()) {
    throw new LicenseError(
      "FILE_UNWRITABLE",
      `the lock on ${licenseFile} was taken over by another process; ${path} was not written: try again`,
    );
  }
  if (!next.server && !next.good && !next.stop && !next.revocations) {
    removeOnlineRecord(licenseFile);
  } else {
    writeFileAtomic(path, serializeOnlineRecord(next), { mode: 0o600 });
  }
  return next;
}

/** Removes the record; true when there was one. */
export function removeOnlineRecord(licenseFile: string): boolean {
  const path = onlinePath(licenseFile);
  try {
    rmSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new LicenseError("FILE_UNWRITABLE", `cannot remove ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  fsyncDir(dirname(path));
  return true;
}

/** A stored seat answer, re-verified, or why it does not count. */
export function verifyStoredSeat(
  raw: RawAnswer,
  ring: KeyRing,
): { answer: SeatAnswer; time: Date } | string {
  try {
    verifyAnswer(ring, raw.signature, raw.body);
  } catch (err) {
    return `a stored answer does not verify (${(err as LicenseError).code ?? String(err)})`;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.body);
  } catch {
    value = undefined;
  }
  const answer = parseSeatAnswer(value);
  if (!answer) return "a stored answer is not of the expected form";
  return { answer, time: parseServerTime(answer.server_time)! };
}

/** The stored revocation list, re-verified, or why it does not count. */
export function verifyStoredList(raw: RawAnswer, ring: KeyRing): RevocationList | string {
  try {
    verifyAnswer(ring, raw.signature, raw.body);
  } catch (err) {
    return `the stored revocation list does not verify (${(err as LicenseError).code ?? String(err)})`;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.body);
  } catch {
    value = undefined;
  }
  return parseRevocationList(value) ?? "the stored revocation list is not of the expected form";
}

/** What {@link applyOnline} needs besides the offline status. */
export interface OnlineContext {
  readonly loaded: LoadedRecord;
  readonly ring: KeyRing;
  readonly catalogue: Catalogue;
  readonly now: Date;
  /** True when the app itself requires check-in (it was given a server). */
  readonly required: boolean;
  /** The server the app was given, if any. */
  readonly server: string | undefined;
  readonly graceMs: number;
  readonly maxSkewMs: number;
  /** This machine's fingerprint; computed only when a stored answer must be matched. */
  readonly fingerprint: () => string;
}

type Evidence = {
  time: number;
  verdict: "clear" | "revoked" | "suspended" | "expired";
  what: string;
};

/**
 * The status once the online record is taken into account. Leaves the offline
 * status exactly as it is when the check-in is not in use (no record and no
 * server in the app's options) or when the license is not usable offline.
 * Otherwise, the newest verified evidence decides: a stop answer or a
 * revocation list naming the license makes it revoked, suspended or expired;
 * without a good answer within the grace period, check_in_required.
 */
export function applyOnline(status: LicenseStatus, ctx: OnlineContext): LicenseStatus {
  const { loaded } = ctx;
  const record = loaded.kind === "record" ? loaded.record : undefined;
  const inUse =
    ctx.required ||
    loaded.kind === "damaged" ||
    (record !== undefined &&
      (record.server !== null || record.good !== null || record.stop !== null));
  const license = status.license;
  if (!license || !status.usable) return status;

  const problems: string[] = [];
  if (loaded.kind === "damaged") problems.push(`${ONLINE_FILE} ${loaded.why}`);
  const evidence: Evidence[] = [];
  const future = ctx.now.getTime() + ctx.maxSkewMs;
  let goodTime: Date | undefined;
  let serial: number | null = null;

  const seat = (raw: RawAnswer | null, kind: "good" | "stop") => {
    if (!raw) return;
    const v = verifyStoredSeat(raw, ctx.ring);
    if (typeof v === "string") return void problems.push(v);
    const { answer, time } = v;
    if (answer.license_key !== license.license_key) {
      return void problems.push("a stored answer is about another license");
    }
    if (kind === "good" && answer.activation?.fingerprint !== ctx.fingerprint()) {
      return void problems.push("the stored answer was made for another machine");
    }
    if (time.getTime() > future) {
      return void problems.push(
        `the last answer is dated ${answer.server_time}, after this machine's clock: the clock was set back`,
      );
    }
    const code =
      kind === "good"
        ? GOOD_CODES.has(answer.code)
          ? "clear"
          : undefined
        : stopVerdict(answer.code);
    if (!code) return void problems.push("a stored answer has an unexpected code");
    if (kind === "good") goodTime = time;
    evidence.push({
      time: time.getTime(),
      verdict: code,
      what: `the server's answer of ${answer.server_time}`,
    });
  };
  seat(record?.good ?? null, "good");
  seat(record?.stop ?? null, "stop");
  if (record?.revocations) {
    const list = verifyStoredList(record.revocations, ctx.ring);
    if (typeof list === "string") problems.push(list);
    else {
      serial = list.serial;
      const entry = list.revoked.find((e) => e.license_key === license.license_key);
      evidence.push({
        time: parseServerTime(list.issued_at)!.getTime(),
        verdict: entry ? entry.state : "clear",
        what: `the revocation list of ${list.issued_at}`,
      });
    }
  }

  const graceEnds = goodTime ? new Date(goodTime.getTime() + ctx.graceMs) : undefined;
  const online: OnlineSummary = {
    server: record?.server ?? ctx.server ?? null,
    last_check_in: goodTime ? goodTime.toISOString() : null,
    grace_ends_at: graceEnds ? graceEnds.toISOString() : null,
    revocation_serial: serial,
    problem: problems.length > 0 ? problems.join("; ") : null,
  };
  const base: StatusInput = {
    state: status.state,
    path: status.path,
    catalogue: ctx.catalogue,
    now: ctx.now,
    license,
    online,
  };

  // The newest evidence wins: a reinstated license's VALID answer after a list that named it.
  const latest = evidence.sort((a, b) => b.time - a.time)[0];
  if (latest && latest.verdict !== "clear") {
    const code =
      latest.verdict === "revoked"
        ? "LICENSE_REVOKED"
        : latest.verdict === "suspended"
          ? "LICENSE_SUSPENDED"
          : "LICENSE_EXPIRED";
    const said =
      latest.verdict === "expired"
        ? `the license server says the license ${license.license_key} has expired`
        : `the license ${license.license_key} is ${latest.verdict} by its vendor`;
    return makeStatus({
      ...base,
      state: latest.verdict,
      code,
      message:
        `${said} (${latest.what}); ` +
        (latest.verdict === "suspended"
          ? "contact the vendor; once it is reinstated, run dtlicense check-in"
          : latest.verdict === "expired"
            ? "ask the vendor for a renewal, then run dtlicense renew BLOB"
            : "contact the vendor"),
    });
  }
  const checkIn = "connect to the internet and run dtlicense check-in (or open the app online)";
  // Anything that does not verify counts as no good answer: an edited record never unlocks.
  if (problems.length > 0) {
    return makeStatus({
      ...base,
      state: "check_in_required",
      code: "CHECK_IN_REQUIRED",
      message: `the online check-in record is not usable (${online.problem}); ${checkIn}`,
    });
  }
  const keep = status.message ? { message: status.message } : {};
  if (!inUse) return record ? makeStatus({ ...base, ...keep }) : status;
  if (!goodTime || !graceEnds) {
    return makeStatus({
      ...base,
      state: "check_in_required",
      code: "CHECK_IN_REQUIRED",
      message:
        "this machine has not been checked in with the license server yet; connect to the internet " +
        "and activate it online (the app does so, or run dtlicense activate --file buyer.dtlic " +
        "--name NAME --email EMAIL --server URL)",
    });
  }
  if (ctx.now.getTime() > graceEnds.getTime()) {
    const days = Math.round(ctx.graceMs / 86_400_000);
    return makeStatus({
      ...base,
      state: "check_in_required",
      code: "CHECK_IN_REQUIRED",
      message: `the license was last checked in on ${online.last_check_in}, more than ${days} days ago; ${checkIn}`,
    });
  }
  return makeStatus({ ...base, ...keep });
}

function stopVerdict(code: string): Evidence["verdict"] | undefined {
  return code === "REVOKED"
    ? "revoked"
    : code === "SUSPENDED"
      ? "suspended"
      : code === "EXPIRED"
        ? "expired"
        : undefined;
}
