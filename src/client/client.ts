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

  constructor(options: ClientOptions) {
    this.ring = toKeyRing(options.publicKeys);
    this.path = licensePath(options.home ?? homedir());
    this.catalogue = options.catalogue ?? DEFAULT_CATALOGUE;
    this.#now = options.now ?? (() => new Date());
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
    return checked.status;
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
      return { removed: removeRecord(this.path, lock), previous };
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
