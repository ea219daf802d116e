/**
 * The online check-in as the buyer commands present it (activate --server,
 * check-in, status --online, deactivate): options, outcome lines, JSON and exit statuses.
 */
import { hostname } from "node:os";
import { LicenseError, type ErrorCode } from "../core/errors.js";
import type { LicenseClient, OnlineResult } from "../client/client.js";
import { sendableHostname, type SeatAnswer } from "../client/answers.js";
import type { LicenseState } from "../client/check.js";

/** Seconds, from `--timeout`: 1 to 120. */
export function timeoutMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 120) {
    throw new LicenseError(
      "USAGE",
      `--timeout must be a whole number of seconds from 1 to 120, not ${value}`,
    );
  }
  return n * 1000;
}

/** This machine's host name as sent at activation (shown to the vendor), if it is sendable. */
export function hostLabel(name: () => string = hostname): string | undefined {
  try {
    return sendableHostname(name());
  } catch {
    return undefined;
  }
}

/** What `--json` prints about one online call. */
export function resultJson(result: OnlineResult<SeatAnswer>): Record<string, unknown> {
  return {
    ok: result.ok,
    code: result.code,
    http_status: result.httpStatus ?? null,
    message: result.ok ? result.answer!.message : result.error!.message,
    server: result.server,
    seats: result.answer?.seats ?? null,
    status: result.status.toJSON(),
  };
}

/** One line for people about an online call. */
export function resultLine(result: OnlineResult<SeatAnswer>): string {
  const seats = result.answer?.seats;
  const used = seats
    ? ` (${seats.used} of ${seats.limit === null ? "unlimited" : seats.limit} seats in use)`
    : "";
  if (!result.ok) {
    const until = result.status.online?.grace_ends_at;
    return (
      `${result.error!.message} [${result.code}]` +
      (until && result.status.usable
        ? `; the last check-in keeps the license working until ${until}`
        : "")
    );
  }
  switch (result.code) {
    case "ACTIVATED":
      return `Activated this machine with ${result.server}${used}.`;
    case "ALREADY_ACTIVE":
      return `This machine already holds a seat on ${result.server}${used}.`;
    case "VALID":
      return `Checked in with ${result.server}: the license is valid${used}.`;
    case "RELEASED":
      return `Released this machine's seat on ${result.server}${used}.`;
    default:
      return `${result.server} answered ${result.code}: ${result.answer!.message}`;
  }
}

/**
 * The exit status and error of a seat call: 0 for a good answer; the status
 * command's exit status when the answer stopped the license; otherwise a
 * LicenseError with the answer's or the failure's code.
 */
export function outcome(
  result: OnlineResult<SeatAnswer>,
  good: readonly string[],
  exits: Readonly<Record<LicenseState, number>>,
): number {
  if (result.ok && good.includes(result.code)) return 0;
  if (result.ok && !result.status.usable && result.status.state !== "check_in_required") {
    return exits[result.status.state];
  }
  return 1;
}

/** A seat call's failure as the one-line error the CLI prints. */
export function failure(result: OnlineResult<SeatAnswer>): LicenseError {
  const hint =
    result.code === "NOT_ACTIVATED"
      ? "; this machine holds no seat (released or reclaimed): run dtlicense activate --server URL again"
      : "";
  const code = (result.ok ? result.code : result.error!.code) as ErrorCode;
  return new LicenseError(code, `${resultLine(result).replace(/ \[[A-Z_]+\]$/, "")}${hint}`);
}

/** Checks in when a server is known; undefined when none is. */
export async function checkInIfKnown(
  client: LicenseClient,
  server: string | undefined,
  timeout: number | undefined,
): Promise<OnlineResult<SeatAnswer> | undefined> {
  if (client.server(server !== undefined ? { server } : {}) === undefined) return undefined;
  return client.checkIn({
    ...(server !== undefined ? { server } : {}),
    ...(timeout !== undefined ? { timeoutMs: timeout } : {}),
  });
}
