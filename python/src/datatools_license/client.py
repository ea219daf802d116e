"""The license as the app and the buyer see it: check it, and activate, renew or remove it, on
the same file and with the same rules as ``dtlicense`` (src/client/client.ts), so a buyer can
move between the command line and the app."""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from typing import Callable, Optional

from . import _js
from .catalogue import DEFAULT_CATALOGUE, Catalogue
from .check import (
    CLOCK_ROLLBACK_TOLERANCE_MS,
    LAST_SEEN_REFRESH_MS,
    CheckedFile,
    LicenseStatus,
    check_license_file,
)
from .checkin import CheckIn, apply_check_in
from .errors import LicenseError
from .format import verify_blob
from .keys import KeyRing, PublicKeys, to_key_ring
from .license import License, same_identity
from .lock import FileLock
from .store import (
    LicenseFileRecord,
    PathLike,
    license_path,
    read_license_file,
    remove_record,
    serialize_record,
    with_lock,
    write_record,
)

#: A clock: returns the current time as a timezone-aware ``datetime``.
Clock = Callable[[], _dt.datetime]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _system_ms() -> int:
    return time.time_ns() // 1_000_000


def _clock_ms(now: Optional[Clock]) -> Callable[[], int]:
    if now is None:
        return _system_ms

    def read() -> int:
        value = now()
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the clock must return a timezone-aware datetime")
        return (value - _EPOCH) // _dt.timedelta(milliseconds=1)

    return read


@dataclass(frozen=True)
class ChangeResult:
    """What a change to the license file did."""

    #: False when the file already held exactly this license and nothing was written.
    changed: bool
    #: The license that was stored before, when one verified.
    previous: Optional[License]
    #: The license's status after the change.
    status: LicenseStatus


@dataclass(frozen=True)
class RemoveResult:
    """What :meth:`LicenseClient.deactivate` removed."""

    #: False when there was no license file.
    removed: bool
    #: The status of the removed file (its license, when it verified).
    previous: LicenseStatus


class LicenseClient:
    """The license on one machine. Every read re-verifies the stored blob; every change is
    atomic, made under the lock ``dtlicense`` takes, and a refused change writes nothing.

    Example::

        client = LicenseClient(VENDOR_KEYS)
        client.activate(blob_from_email, "Ada Lovelace", "ada@example.com")
        status = client.status()
        status.state                       # "active"
        status.has_feature("deduplicator")  # True
    """

    def __init__(
        self,
        public_keys: PublicKeys,
        path: Optional[PathLike] = None,
        *,
        now: Optional[Clock] = None,
        catalogue: Optional[Catalogue] = None,
        check_in: Optional[CheckIn] = None,
    ) -> None:
        """``public_keys``: the vendor's 64-hex public keys (old and new after a rotation) or a
        :class:`KeyRing`; ``path``: the license file (default ``~/.datatools/license.json``);
        ``now``: a clock returning an aware ``datetime`` (default: the system clock);
        ``catalogue``: tiers -> features (default: the built-in one); ``check_in``: see
        :mod:`datatools_license.checkin`."""
        self.ring: KeyRing = to_key_ring(public_keys)
        self.path: str = str(path) if path is not None else license_path()
        self.catalogue: Catalogue = catalogue or DEFAULT_CATALOGUE
        self._now = _clock_ms(now)
        self._check_in = check_in

    def status(self, *, refresh: bool = False) -> LicenseStatus:
        """Loads and checks the stored license; never raises for a missing or bad one (the
        answer says so). With ``refresh=True``, when the license is genuine and its
        ``last_seen_at`` is over an hour old, records the current time there, as
        ``dtlicense status`` does (best effort: a read-only home does not fail the check). That
        keeps the clock-rollback floor current; without it nothing is written."""
        now = self._now()
        checked = self._check(now)
        if refresh:
            self._refresh(checked, now)
        return apply_check_in(self._check_in, checked.status, self.ring, now)

    def activate(self, blob: str, name: str, email: str, *, force: bool = False) -> ChangeResult:
        """Verifies ``blob``, checks that ``name`` and ``email`` match the signed ones (after
        NFC, trimming, collapsing spaces and case-folding) and stores it. Refuses, changing
        nothing: a blob that does not verify (its own code), a mismatch
        (``IDENTITY_MISMATCH``, saying which differs but never the signed value), an expired
        license (``LICENSE_EXPIRED``), a clock behind the issue time or behind the stored
        license's ``last_seen_at`` (``CLOCK_ROLLBACK``), and replacing another usable license
        without ``force`` (``LICENSE_EXISTS``)."""
        verified = verify_blob(blob, self.ring)
        name_ok = same_identity(name, verified.name)
        email_ok = same_identity(email, verified.email)
        if not name_ok or not email_ok:
            both = not name_ok and not email_ok
            which = (
                "neither the name nor the e-mail"
                if both
                else "the name"
                if not name_ok
                else "the e-mail"
            )
            raise LicenseError(
                "IDENTITY_MISMATCH",
                f"{which} you gave {'matches' if both else 'does not match'} the license; use "
                "the name and e-mail exactly as in your purchase e-mail (case and spacing do not "
                "matter)",
            )
        now = self._now()
        self._assert_usable_now(verified, now)

        def change(lock: FileLock) -> ChangeResult:
            before = self._check(now)
            previous = before.status.license
            if before.record and before.record.blob == verified.blob and before.status.usable:
                return ChangeResult(False, previous, before.status)
            if before.status.usable and previous and not force:
                raise LicenseError(
                    "LICENSE_EXISTS",
                    f"license {previous.license_key} ({previous.tier}, expires "
                    f"{previous.expires_at}) is already active here; to extend it use dtlicense "
                    "renew BLOB, to replace it pass --force",
                )
            # The stored license is this machine's evidence of the latest time seen;
            # activating again must not wipe it, or re-running activate would undo a rollback.
            if before.status.reason == "clock_rollback":
                raise LicenseError("CLOCK_ROLLBACK", before.status.message)
            last_seen = _js.parse_time(before.record.last_seen_at) if before.record else now
            assert last_seen is not None
            write_record(
                self.path,
                LicenseFileRecord(
                    blob=verified.blob,
                    activated_at=_js.format_time(now),
                    last_seen_at=_js.format_time(max(last_seen, now)),
                ),
                lock,
            )
            return ChangeResult(True, previous, self._check(now).status)

        result = with_lock(self.path, True, change)
        assert result is not None
        return result

    def renew(self, blob: str) -> ChangeResult:
        """Replaces the stored license with a newer one for the same buyer (name and e-mail come
        from the stored license). Refuses, changing nothing, when no genuine license is stored
        (``LICENSE_NONE`` or the stored file's code), when the clock is behind the stored
        license's ``last_seen_at`` (``CLOCK_ROLLBACK``), when the new one is for another e-mail
        (``RENEW_DIFFERENT_BUYER``), expires before the stored one (``RENEW_EARLIER_EXPIRY``)
        or has expired (``LICENSE_EXPIRED``)."""
        verified = verify_blob(blob, self.ring)
        now = self._now()

        def change(lock: FileLock) -> ChangeResult:
            before = self._check(now)
            stored = before.status.license
            if stored is None or before.record is None:
                if before.status.state == "none":
                    raise LicenseError(
                        "LICENSE_NONE",
                        "there is no license on this machine to renew; activate the new one "
                        "with: dtlicense activate BLOB --name NAME --email EMAIL",
                    )
                raise LicenseError(
                    before.status.code or "LICENSE_TAMPERED",
                    "the stored license cannot be renewed: "
                    f"{before.status.message or 'it is not valid'}",
                )
            if before.status.reason == "clock_rollback":
                raise LicenseError("CLOCK_ROLLBACK", before.status.message)
            if before.record.blob == verified.blob:
                return ChangeResult(False, stored, before.status)
            if not same_identity(verified.email, stored.email):
                raise LicenseError(
                    "RENEW_DIFFERENT_BUYER",
                    "the new license is for a different e-mail address than the activated "
                    "one; if it is yours, activate it instead: dtlicense activate BLOB --name "
                    "NAME --email EMAIL --force",
                )
            new_expiry = _js.parse_time(verified.expires_at)
            old_expiry = _js.parse_time(stored.expires_at)
            assert new_expiry is not None and old_expiry is not None
            if new_expiry < old_expiry:
                raise LicenseError(
                    "RENEW_EARLIER_EXPIRY",
                    f"the new license expires on {verified.expires_at}, before the activated one "
                    f"({stored.expires_at}); keep the current license, or ask the vendor for a "
                    "later one",
                )
            self._assert_usable_now(verified, now)
            last_seen = _js.parse_time(before.record.last_seen_at)
            assert last_seen is not None
            write_record(
                self.path,
                LicenseFileRecord(
                    blob=verified.blob,
                    activated_at=before.record.activated_at,
                    renewed_at=_js.format_time(now),
                    # Renewing does not vouch for the clock: a later time already seen stays.
                    last_seen_at=_js.format_time(max(last_seen, now)),
                ),
                lock,
            )
            return ChangeResult(True, stored, self._check(now).status)

        result = with_lock(self.path, True, change)
        assert result is not None
        return result

    def deactivate(self) -> RemoveResult:
        """Removes the stored license file, whatever its state, and says what it was."""
        now = self._now()

        def change(lock: FileLock) -> RemoveResult:
            previous = self._check(now).status
            return RemoveResult(remove_record(self.path, lock), previous)

        result = with_lock(self.path, True, change)
        assert result is not None
        return result

    def _check(self, now: int) -> CheckedFile:
        return check_license_file(
            read_license_file(self.path), self.ring, self.catalogue, now, self.path
        )

    def _assert_usable_now(self, license: License, now: int) -> None:
        """Refuses to store a license the clock says is not yet issued or already expired."""
        issued = _js.parse_time(license.issued_at)
        expires = _js.parse_time(license.expires_at)
        assert issued is not None and expires is not None
        if now < issued - CLOCK_ROLLBACK_TOLERANCE_MS:
            raise LicenseError(
                "CLOCK_ROLLBACK",
                f"the system clock ({_js.format_time(now)}) is behind the license's issue time "
                f"({license.issued_at}); set the date and time correctly and try again",
            )
        if now >= expires:
            raise LicenseError(
                "LICENSE_EXPIRED",
                f"this license expired on {license.expires_at}; ask the vendor for a renewal",
            )

    def _refresh(self, checked: CheckedFile, now: int) -> None:
        """Moves ``last_seen_at`` forward when it is over an hour old; never fails the check."""
        record, text = checked.record, checked.text
        if record is None or checked.status.reason == "clock_rollback":
            return
        last_seen = _js.parse_time(record.last_seen_at)
        assert last_seen is not None
        if now - last_seen < LAST_SEEN_REFRESH_MS:
            return

        def change(lock: FileLock) -> None:
            # Another process may have replaced or removed the file since it was read.
            current = read_license_file(self.path)
            if current.kind != "text" or current.text != text:
                return
            updated = LicenseFileRecord(
                blob=record.blob,
                activated_at=record.activated_at,
                renewed_at=record.renewed_at,
                last_seen_at=_js.format_time(now),
            )
            if serialize_record(updated) != text:
                write_record(self.path, updated, lock)

        try:
            with_lock(self.path, False, change)
        except Exception:
            pass  # a read-only home or a full disk must not turn a good license into an error


def load_license(
    public_keys: PublicKeys,
    path: Optional[PathLike] = None,
    *,
    refresh: bool = False,
    now: Optional[Clock] = None,
    catalogue: Optional[Catalogue] = None,
    check_in: Optional[CheckIn] = None,
) -> LicenseStatus:
    """Checks the license on this machine in one call: what an app runs at start-up. Reads
    ``~/.datatools/license.json`` (or ``path``) as ``dtlicense activate`` wrote it and answers
    the same state, reason, code and features as ``dtlicense status``, the clock-rollback rule
    included. Never raises for a missing or bad license (the answer says so), only for bad keys
    (``KEY_MISSING``, ``KEY_INVALID``, ``KEY_WEAK``). Writes nothing unless ``refresh=True``
    (see :meth:`LicenseClient.status`).

    Example::

        status = load_license(VENDOR_KEYS, refresh=True)
        if not status.usable:
            show_activation_dialog(status.message)
        elif status.has_feature("pivot-builder"):
            enable_pivot_builder()
    """
    client = LicenseClient(public_keys, path, now=now, catalogue=catalogue, check_in=check_in)
    return client.status(refresh=refresh)


def activate(
    blob: str,
    name: str,
    email: str,
    *,
    public_keys: PublicKeys,
    path: Optional[PathLike] = None,
    force: bool = False,
    now: Optional[Clock] = None,
) -> ChangeResult:
    """:meth:`LicenseClient.activate` in one call."""
    return LicenseClient(public_keys, path, now=now).activate(blob, name, email, force=force)


def renew(
    blob: str,
    *,
    public_keys: PublicKeys,
    path: Optional[PathLike] = None,
    now: Optional[Clock] = None,
) -> ChangeResult:
    """:meth:`LicenseClient.renew` in one call."""
    return LicenseClient(public_keys, path, now=now).renew(blob)


def deactivate(
    *,
    public_keys: PublicKeys,
    path: Optional[PathLike] = None,
    now: Optional[Clock] = None,
) -> RemoveResult:
    """:meth:`LicenseClient.deactivate` in one call."""
    return LicenseClient(public_keys, path, now=now).deactivate()
