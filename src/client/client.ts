/**
 * The license as the product and the buyer's commands see it: check it, and
 * activate, renew or remove it. Takes its keys, home folder, clock and
 * catalogue as options; reads no environment.
 */
import { homedir } from "node:os";
import { DEFAULT_CATALOGUE, type Catalogue } from "../core/catalogue.js";
import { LicenseError } from "../core/errors.js";
import { verifyBlob } from "../core/format.js";
import type { KeyRing } from "../core/keys.js";
import { formatTime, parseTime, sameIdentity, type LicensePayload } from "../core/license.js";
import {
  CLOCK_ROLLBACK_TOLERANCE_MS,
  LAST_SEEN_REFRESH_MS,
  checkLicenseFile,
  type CheckedFile,
  type LicenseStatus,
} from "./check.js";
import {
  LICENSE_FILE_VERSION,
  licensePath,
  readLicenseFile,
  removeRecord,
  serializeRecord,
  withLock,
  writeRecord,
  type LicenseFileRecord,
} from "./store.js";
import { toKeyRing } from "./keys.js";
import {
  AnswerRefused,
  DEFAULT_MAX_SKEW_MS,
  checkFingerprint,
  DEFAULT_TIMEOUT_MS,
  exchangeRevocations,
  exchangeSeat,
  newNonce,
  sendableHostname,
  serverBase,
  type RevocationList,
  type SeatAnswer,
  type Verified,
} from "./answers.js";
import { machineFingerprint } from "./fingerprint.js";
import {
  DEFAULT_GRACE_MS,
  GOOD_CODES,
  SEATLESS_CODES,
  STOP_CODES,
  applyOnline,
  onlinePath,
  readOnlineRecord,
  removeOnlineRecord,
  updateOnlineRecord,
  verifyStoredList,
  verifyStoredSeat,
  EMPTY_RECORD,
  type OnlineRecord,
} from "./online.js";

/** Where a client finds its license and what it trusts. */
export interface ClientOptions {
  /**
   * The public keys licenses must be signed with: 64-hex-character strings
   * (a vendor that rotated keys lists old and new) or a ready {@link KeyRing}.
   */
  readonly publicKeys: readonly string[] | KeyRing;
  /** The home folder; the license is `<home>/.datatools/license.json`. Default: the user's home. */
  readonly home?: string;
  /** The clock. Default: the system clock. */
  readonly now?: () => Date;
  /** Which features each tier unlocks. Default: the built-in catalogue. */
  readonly catalogue?: Catalogue;
  /**
   * The online check-in (seats, signed answers, the revocation list). Without
   * it, and without an `online.json` left by an online activation, the license
   * is checked offline exactly as before.
   */
  readonly online?: OnlineOptions;
}

/** How the app uses its license server. Every field is optional. */
export interface OnlineOptions {
  /**
   * The license server, e.g. `https://licenses.example.com`. Giving it makes
   * check-in required (see `required`): a license with no good signed answer
   * within the grace period is `check_in_required`. Only this option, which
   * lives in the app, enforces check-in against a buyer who deletes files.
   */
  readonly server?: string;
  /** Set false to use the server without requiring check-in. Default: true when `server` is given. */
  readonly required?: boolean;
  /** How long the last good answer keeps the license usable offline. Default: 14 days. */
  readonly graceMs?: number;
  /** How far an answer's server_time may be from the local clock. Default: 10 minutes. */
  readonly maxSkewMs?: number;
  /** How long one request may take. Default: 10 seconds. */
  readonly timeoutMs?: number;
  /** This machine's fingerprint. Default: {@link machineFingerprint}(). */
  readonly fingerprint?: string;
  /** The host name sent at activation, shown to the vendor. Default: none. */
  readonly hostname?: string;
}

/** Per-call overrides of {@link OnlineOptions} for the online methods. */
export interface OnlineCallOptions {
  readonly server?: string;
  readonly timeoutMs?: number;
  readonly fingerprint?: string;
  readonly hostname?: string;
}

/** What an online call got. */
export interface OnlineResult<A = SeatAnswer> {
  /** True when a verified answer arrived (whatever it says: see `code`). */
  readonly ok: boolean;
  /**
   * The answer's code (ACTIVATED, ALREADY_ACTIVE, VALID, RELEASED, REVOKED,
   * SEAT_LIMIT_REACHED, NOT_ACTIVATED…; LISTED or NOT_LISTED for the revocation
   * list) when `ok`; otherwise the error's code (ANSWER_UNSIGNED,
   * ANSWER_SIGNATURE_INVALID, ANSWER_KEY_UNKNOWN, ANSWER_NONCE_MISMATCH,
   * ANSWER_CLOCK_SKEW, ANSWER_STALE, CHECK_IN_UNAVAILABLE).
   */
  readonly code: string;
  /** The HTTP status, when the server answered at all. */
  readonly httpStatus: number | undefined;
  /** The verified answer; undefined when not `ok`. */
  readonly answer: A | undefined;
  /** Why there is no verified answer; the last good answer stays in force. */
  readonly error: LicenseError | undefined;
  /** The server the call went to. */
  readonly server: string;
  /** The license's status on this machine after the answer was applied. */
  readonly status: LicenseStatus;
}

/** The buyer's name and e-mail, as typed at activation. */
export interface Identity {
  readonly name: string;
  readonly email: string;
}

/** What a change to the license file did. */
export interface ChangeResult {
  /** False when the file already held exactly this license and nothing was written. */
  readonly changed: boolean;
  /** The license that was stored before, when one verified. */
  readonly previous: LicensePayload | undefined;
  /** The license's status after the change. */
  readonly status: LicenseStatus;
}

/** What {@link LicenseClient.deactivate} removed. */
export interface RemoveResult {
  /** False when there was no license file. */
  readonly removed: boolean;
  /** The status of the removed file (its license, when it verified). */
  readonly previous: LicenseStatus;
}

/**
 * The license on one machine. Every read re-verifies the stored blob; every
 * change is atomic and made under a lock, and a refused change writes nothing.
 *
 * @example
 * ```ts
 * import { LicenseClient } from "datatools-license/client";
 *
 * const client = new LicenseClient({ publicKeys: [VENDOR_PUBLIC_KEY_HEX] });
 * client.activate(blobFromEmail, { name: "Ada Lovelace", email: "ada@example.com" });
 * const license = client.status();
 * license.state; // "active"
 * license.hasFeature("deduplicator"); // true
 * ```
 */
export class LicenseClient {
  readonly ring: KeyRing;
  readonly path: string;
  readonly catalogue: Catalogue;
  readonly #now: () => Date;
  readonly #online: OnlineOptions;
  #fingerprint: string | undefined;

  constructor(options: ClientOptions) {
    this.ring = toKeyRing(options.publicKeys);
    this.path = licensePath(options.home ?? homedir());
    this.catalogue = options.catalogue ?? DEFAULT_CATALOGUE;
    this.#now = options.now ?? (() => new Date());
    this.#online = options.online ?? {};
    if (this.#online.server !== undefined) serverBase(this.#online.server);
    if (this.#online.fingerprint !== undefined) checkFingerprint(this.#online.fingerprint);
  }

  /** The online check-in record's path, `online.json` beside the license file. */
  get onlinePath(): string {
    return onlinePath(this.path);
  }

  /** The server this machine checks in with: the call's, the stored one, or the app's. */
  server(options: OnlineCallOptions = {}): string | undefined {
    const loaded = readOnlineRecord(this.onlinePath);
    const stored = loaded.kind === "record" ? (loaded.record.server ?? undefined) : undefined;
    const server = options.server ?? stored ?? this.#online.server;
    return server === undefined ? undefined : serverBase(server);
  }

  /**
   * Activates this machine with the license server: takes a seat of the
   * stored license (or confirms the one it holds). A verified ACTIVATED or
   * ALREADY_ACTIVE answer is stored with the server's address and starts the
   * grace period; REVOKED, SUSPENDED or EXPIRED is stored and applied.
   * Throws only when no genuine license is stored; a refused or missing
   * answer is in the result (`ok: false`), and changes nothing.
   *
   * @example
   * ```ts
   * const result = await client.activateMachine({ server: "https://licenses.example.com" });
   * if (result.code === "SEAT_LIMIT_REACHED") showDialog(result.answer!.message);
   * ```
   */
  async activateMachine(options: OnlineCallOptions = {}): Promise<OnlineResult> {
    return this.#seatCall("/v1/activations", options);
  }

  /**
   * Checks in: the server answers the license's current state and refreshes
   * this machine's seat. What to call now and then (at start, once a day).
   *
   * @example
   * ```ts
   * const { ok, code, status } = await client.checkIn();
   * if (!status.usable) showDialog(status.message);
   * else if (!ok) console.warn(`offline; the last check-in holds until ${status.online?.grace_ends_at}`);
   * ```
   */
  async checkIn(options: OnlineCallOptions = {}): Promise<OnlineResult> {
    return this.#seatCall("/v1/check-in", options);
  }

  /**
   * Releases this machine's seat (moving to another machine). A verified
   * RELEASED or NOT_ACTIVATED answer clears the stored answers and server.
   * The license file itself stays; {@link deactivate} removes it.
   *
   * @example
   * ```ts
   * const { ok, code } = await client.releaseMachine();
   * if (ok && code === "RELEASED") client.deactivate();
   * ```
   */
  async releaseMachine(options: OnlineCallOptions = {}): Promise<OnlineResult> {
    return this.#seatCall("/v1/activations/release", options);
  }

  /**
   * Fetches the signed revocation list and keeps it; from then on every
   * status check (offline too) reports a license on it as revoked or
   * suspended. Needs no license. A list with a lower serial than the one
   * held is refused (ANSWER_STALE). `code` is LISTED or NOT_LISTED for the
   * stored license.
   *
   * @example
   * ```ts
   * const { ok, answer } = await client.fetchRevocations({ server: "https://licenses.example.com" });
   * if (ok) console.log(`revocation list ${answer!.serial}, next due ${answer!.next_update}`);
   * ```
   */
  async fetchRevocations(options: OnlineCallOptions = {}): Promise<OnlineResult<RevocationList>> {
    const base = this.#requireServer(options);
    const loaded = readOnlineRecord(this.onlinePath);
    let minSerial = 0;
    if (loaded.kind === "record" && loaded.record.revocations) {
      const held = verifyStoredList(loaded.record.revocations, this.ring);
      if (typeof held !== "string") minSerial = held.serial;
    }
    let verified: Verified<RevocationList>;
    try {
      verified = await exchangeRevocations(base, minSerial, this.#answerCheck(options));
    } catch (err) {
      return this.#refused<RevocationList>(err, base);
    }
    const stored = this.#check(this.#now()).status.license?.license_key;
    const listed =
      stored !== undefined && verified.answer.revoked.some((e) => e.license_key === stored);
    withLock(this.path, true, (lock) =>
      // A listed license loses its good answer too: removing the list by hand must not
      // bring back a license that an older good answer vouched for.
      updateOnlineRecord(this.path, lock, (r) => {
        // Another process may have stored a newer list meanwhile: the serial never goes back.
        const held = r.revocations ? verifyStoredList(r.revocations, this.ring) : undefined;
        const newer = held !== undefined && typeof held !== "string";
        if (newer && held.serial > verified.answer.serial) return r;
        return { ...r, revocations: verified.raw, ...(listed ? { good: null } : {}) };
      }),
    );
    const status = this.status();
    return {
      ok: true,
      code: listed ? "LISTED" : "NOT_LISTED",
      httpStatus: verified.httpStatus,
      answer: verified.answer,
      error: undefined,
      server: base,
      status,
    };
  }

  async #seatCall(
    path: "/v1/activations" | "/v1/activations/release" | "/v1/check-in",
    options: OnlineCallOptions,
  ): Promise<OnlineResult> {
    const base = this.#requireServer(options);
    const { record } = this.#check(this.#now());
    if (!record) {
      throw new LicenseError(
        "LICENSE_NONE",
        "there is no genuine license on this machine to check in; activate one first with: " +
          "dtlicense activate BLOB --name NAME --email EMAIL --server URL",
      );
    }
    const hostname = sendableHostname(options.hostname ?? this.#online.hostname);
    const request = {
      blob: record.blob,
      fingerprint: this.#machine(options),
      nonce: newNonce(),
      ...(path === "/v1/activations" && hostname !== undefined ? { hostname } : {}),
    };
    let verified: Verified<SeatAnswer>;
    try {
      verified = await exchangeSeat(base, path, request, this.#answerCheck(options));
    } catch (err) {
      return this.#refused<SeatAnswer>(err, base);
    }
    const { answer, raw } = verified;
    const mine =
      answer.license_key !== null && answer.license_key === this.#licenseKey(record.blob);
    withLock(this.path, true, (lock) => {
      const change = (r: OnlineRecord): OnlineRecord | undefined => {
        if (!mine) return undefined;
        if (path === "/v1/activations/release") {
          // The server releases a revoked or suspended license's seat too (RELEASED, state
          // "revoked"): its stop answer stays, or releasing would bring the license back here.
          const stop = answer.state === "active" ? null : r.stop;
          return answer.code === "RELEASED" || answer.code === "NOT_ACTIVATED"
            ? { ...r, server: null, good: null, stop }
            : undefined;
        }
        if (GOOD_CODES.has(answer.code)) return { ...r, server: base, good: raw, stop: null };
        // The server says this machine holds no seat (released by an admin, reclaimed, or taken
        // by another machine meanwhile): the earlier good answer no longer vouches for it.
        if (SEATLESS_CODES.has(answer.code)) {
          const held = r.good ? verifyStoredSeat(r.good, this.ring) : undefined;
          const thisMachine =
            held !== undefined &&
            typeof held !== "string" &&
            held.answer.activation?.fingerprint === request.fingerprint;
          return thisMachine ? { ...r, server: r.server ?? base, good: null } : undefined;
        }
        // The good answer goes: removing the stop answer by hand must leave no good one behind.
        if (STOP_CODES.has(answer.code)) {
          return { ...r, server: r.server ?? base, good: null, stop: raw };
        }
        return undefined;
      };
      const loaded = readOnlineRecord(this.onlinePath);
      if (path === "/v1/activations/release" && loaded.kind === "missing") return;
      const current = loaded.kind === "record" ? loaded.record : undefined;
      if (current === undefined && !mine) return;
      const next = change(current ?? EMPTY_RECORD);
      if (next) updateOnlineRecord(this.path, lock, () => next);
    });
    return {
      ok: true,
      code: answer.code,
      httpStatus: verified.httpStatus,
      answer,
      error: undefined,
      server: base,
      status: this.status(),
    };
  }

  #requireServer(options: OnlineCallOptions): string {
    const base = this.server(options);
    if (base === undefined) {
      throw new LicenseError(
        "CHECK_IN_UNAVAILABLE",
        "no license server is known for this machine; activate it online with: dtlicense activate --server URL",
      );
    }
    return base;
  }

  #answerCheck(options: OnlineCallOptions) {
    return {
      ring: this.ring,
      now: this.#now,
      maxSkewMs: this.#online.maxSkewMs ?? DEFAULT_MAX_SKEW_MS,
      timeoutMs: options.timeoutMs ?? this.#online.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
  }

  #machine(options: OnlineCallOptions = {}): string {
    if (options.fingerprint !== undefined) return checkFingerprint(options.fingerprint);
    if (this.#online.fingerprint !== undefined) return this.#online.fingerprint;
    this.#fingerprint ??= machineFingerprint();
    return this.#fingerprint;
  }

  #licenseKey(blob: string): string | undefined {
    try {
      return verifyBlob(blob, this.ring).payload.license_key;
    } catch {
      return undefined;
    }
  }

  #refused<A>(err: unknown, base: string): OnlineResult<A> {
    if (!(err instanceof AnswerRefused)) throw err;
    return {
      ok: false,
      code: err.error.code,
      httpStatus: err.httpStatus,
      answer: undefined,
      error: err.error,
      server: base,
      status: this.status(),
    };
  }

  /**
   * Loads and checks the stored license. When it is genuine and its
   * `last_seen_at` is over an hour old, records the current time there (best
   * effort: a read-only home folder does not make the check fail). Pass
   * `{ refresh: false }` to never write.
   *
   * @example
   * ```ts
   * const license = client.status();
   * if (license.state === "expiring") notify(`${license.daysLeft} days left`);
   * ```
   */
  status(options: { refresh?: boolean } = {}): LicenseStatus {
    const now = this.#now();
    const checked = this.#check(now);
    if (options.refresh !== false) this.#refresh(checked, now);
    return applyOnline(checked.status, {
      loaded: readOnlineRecord(this.onlinePath),
      ring: this.ring,
      catalogue: this.catalogue,
      now,
      required: this.#online.server !== undefined && this.#online.required !== false,
      server: this.#online.server,
      graceMs: this.#online.graceMs ?? DEFAULT_GRACE_MS,
      maxSkewMs: this.#online.maxSkewMs ?? DEFAULT_MAX_SKEW_MS,
      fingerprint: () => this.#machine(),
    });
  }

  /**
   * Verifies `blob`, checks that `identity` matches the signed name and
   * e-mail (after NFC, trimming, collapsing spaces and case-folding), and
   * stores it. Refuses, changing nothing, a blob that does not verify
   * (its own code), a mismatch (`IDENTITY_MISMATCH`, saying which of the two
   * differs but never the signed value), an expired license (`LICENSE_EXPIRED`),
   * a clock behind the issue time or behind the stored license's `last_seen_at`
   * (`CLOCK_ROLLBACK`), and replacing another usable license without `force`
   * (`LICENSE_EXISTS`).
   *
   * @example
   * ```ts
   * const { status } = client.activate(text, { name: "Ada Lovelace", email: "ada@example.com" });
   * ```
   */
  activate(blob: string, identity: Identity, options: { force?: boolean } = {}): ChangeResult {
    const verified = verifyBlob(blob, this.ring);
    const { payload } = verified;
    const nameOk = sameIdentity(identity.name, payload.name);
    const emailOk = sameIdentity(identity.email, payload.email);
    if (!nameOk || !emailOk) {
      const which =
        !nameOk && !emailOk
          ? "neither the name nor the e-mail"
          : !nameOk
            ? "the name"
            : "the e-mail";
      throw new LicenseError(
        "IDENTITY_MISMATCH",
        `${which} you gave ${!nameOk && !emailOk ? "matches" : "does not match"} the license; ` +
          "use the name and e-mail exactly as in your purchase e-mail (case and spacing do not matter)",
      );
    }
    const now = this.#now();
    this.#assertUsableNow(payload, now);

    const written = withLock(this.path, true, (lock) => {
      const before = this.#check(now);
      const previous = before.status.license;
      if (before.record?.blob === verified.blob && before.status.usable) {
        return { changed: false, previous, status: before.status };
      }
      if (before.status.usable && previous && !options.force) {
        throw new LicenseError(
          "LICENSE_EXISTS",
          `license ${previous.license_key} (${previous.tier}, expires ${previous.expires_at}) is already active here; ` +
            "to extend it use dtlicense renew BLOB, to replace it pass --force",
        );
      }
      // The stored license is this machine's evidence of the latest time seen; activating
      // again (the same blob or another) must not wipe it, or re-running activate would
      // undo a clock_rollback. Deactivating first is the documented way to start over.
      if (before.status.reason === "clock_rollback") {
        throw new LicenseError("CLOCK_ROLLBACK", before.status.message);
      }
      const lastSeen = before.record ? parseTime(before.record.last_seen_at)! : now;
      if (previous && previous.license_key !== payload.license_key) {
        // The stored answers were about the replaced license: set them aside, keeping the
        // server, so an app that checks in asks for a check-in of the new one.
        const loaded = readOnlineRecord(this.onlinePath);
        if (loaded.kind === "record" && (loaded.record.good || loaded.record.stop)) {
          updateOnlineRecord(this.path, lock, (r) => ({ ...r, good: null, stop: null }));
        }
      }
      writeRecord(
        this.path,
        {
          version: LICENSE_FILE_VERSION,
          blob: verified.blob,
          activated_at: formatTime(now),
          last_seen_at: formatTime(lastSeen > now ? lastSeen : now),
        },
        lock,
      );
      return { changed: true, previous, status: this.#check(now).status };
    });
    return written!;
  }

  /**
   * Replaces the stored license with a newer one for the same buyer: the
   * name and e-mail come from the stored license. Refuses, changing nothing,
   * when no genuine license is stored (`LICENSE_NONE` or the stored file's
   * code), when the clock is behind the stored license's `last_seen_at`
   * (`CLOCK_ROLLBACK`), when the new one is for another e-mail
   * (`RENEW_DIFFERENT_BUYER`), expires before the stored one
   * (`RENEW_EARLIER_EXPIRY`) or has expired.
   *
   * @example
   * ```ts
   * const { previous, status } = client.renew(newBlob);
   * console.log(`${previous?.expires_at} → ${status.license?.expires_at}`);
   * ```
   */
  renew(blob: string): ChangeResult {
    const verified = verifyBlob(blob, this.ring);
    const { payload } = verified;
    const now = this.#now();
    const written = withLock(this.path, true, (lock) => {
      const before = this.#check(now);
      const stored = before.status.license;
      if (!stored || !before.record) {
        if (before.status.state === "none") {
          throw new LicenseError(
            "LICENSE_NONE",
            "there is no license on this machine to renew; activate the new one with: dtlicense activate BLOB --name NAME --email EMAIL",
          );
        }
        throw new LicenseError(
          before.status.code ?? "LICENSE_TAMPERED",
          `the stored license cannot be renewed: ${before.status.message ?? "it is not valid"}`,
        );
      }
      // Refused whatever the blob, the stored one included: renewing must not look like it
      // worked while the license stays unusable until the clock is right.
      if (before.status.reason === "clock_rollback") {
        throw new LicenseError("CLOCK_ROLLBACK", before.status.message);
      }
      if (before.record.blob === verified.blob) {
        return { changed: false, previous: stored, status: before.status };
      }
      if (!sameIdentity(payload.email, stored.email)) {
        throw new LicenseError(
          "RENEW_DIFFERENT_BUYER",
          "the new license is for a different e-mail address than the activated one; " +
            "if it is yours, activate it instead: dtlicense activate BLOB --name NAME --email EMAIL --force",
        );
      }
      if (parseTime(payload.expires_at)! < parseTime(stored.expires_at)!) {
        throw new LicenseError(
          "RENEW_EARLIER_EXPIRY",
          `the new license expires on ${payload.expires_at}, before the activated one (${stored.expires_at}); ` +
            "keep the current license, or ask the vendor for a later one",
        );
      }
      this.#assertUsableNow(payload, now);
      const lastSeen = parseTime(before.record.last_seen_at)!;
      writeRecord(
        this.path,
        {
          version: LICENSE_FILE_VERSION,
          blob: verified.blob,
          activated_at: before.record.activated_at,
          renewed_at: formatTime(now),
          // Renewing does not vouch for the clock: a later time already seen stays.
          last_seen_at: formatTime(lastSeen > now ? lastSeen : now),
        },
        lock,
      );
      return { changed: true, previous: stored, status: this.#check(now).status };
    });
    return written!;
  }

  /**
   * Removes the stored license file, whatever its state, and says what it was.
   *
   * @example
   * ```ts
   * const { removed, previous } = client.deactivate();
   * if (removed) console.log(`removed ${previous.license?.license_key ?? "an invalid license file"}`);
   * ```
   */
  deactivate(): RemoveResult {
    const now = this.#now();
    return withLock(this.path, true, (lock) => {
      const previous = this.#check(now).status;
      const removed = removeRecord(this.path, lock);
      // The answers were about this license on this machine; a revocation list is about
      // every license and stays, so re-activating a revoked license offline stays revoked.
      const loaded = readOnlineRecord(this.onlinePath);
      if (loaded.kind === "record" && loaded.record.revocations) {
        const { revocations } = loaded.record;
        updateOnlineRecord(this.path, lock, () => ({ ...EMPTY_RECORD, revocations }));
      } else if (loaded.kind !== "missing") {
        removeOnlineRecord(this.path);
      }
      return { removed, previous };
    })!;
  }

  #check(now: Date): CheckedFile {
    return checkLicenseFile(readLicenseFile(this.path), this.ring, this.catalogue, now, this.path);
  }

  /** Refuses to store a license the clock says is not yet issued or already expired. */
  #assertUsableNow(payload: LicensePayload, now: Date): void {
    const issued = parseTime(payload.issued_at)!;
    if (now.getTime() < issued.getTime() - CLOCK_ROLLBACK_TOLERANCE_MS) {
      throw new LicenseError(
        "CLOCK_ROLLBACK",
        `the system clock (${formatTime(now)}) is behind the license's issue time (${payload.issued_at}); ` +
          "set the date and time correctly and try again",
      );
    }
    if (now.getTime() >= parseTime(payload.expires_at)!.getTime()) {
      throw new LicenseError(
        "LICENSE_EXPIRED",
        `this license expired on ${payload.expires_at}; ask the vendor for a renewal`,
      );
    }
  }

  /** Moves `last_seen_at` forward when it is over an hour old; never fails the check. */
  #refresh(checked: CheckedFile, now: Date): void {
    const { record, text } = checked;
    if (!record || checked.status.reason === "clock_rollback") return;
    const lastSeen = parseTime(record.last_seen_at)!;
    if (now.getTime() - lastSeen.getTime() < LAST_SEEN_REFRESH_MS) return;
    try {
      withLock(this.path, false, (lock) => {
        // Another process may have replaced or removed the file since it was read.
        const current = readLicenseFile(this.path);
        if (current.kind !== "text" || current.text !== text) return;
        const next: LicenseFileRecord = { ...record, last_seen_at: formatTime(now) };
        if (serializeRecord(next) !== text) writeRecord(this.path, next, lock);
      });
    } catch {
      // A read-only home folder or a full disk must not turn a good license into an error.
    }
  }
}

/**
 * Checks the license on this machine in one call: what a product runs at
 * start-up. Never throws for a missing or bad license; the answer says so.
 *
 * @example
 * ```ts
 * import { loadLicense } from "datatools-license/client";
 *
 * const license = loadLicense({ publicKeys: ["<the vendor's 64-hex public key>"] });
 * if (!license.usable) showActivationDialog(license.message);
 * else if (license.hasFeature("pivot-builder")) enablePivotBuilder();
 * ```
 */
export function loadLicense(options: ClientOptions): LicenseStatus {
  return new LicenseClient(options).status();
}
