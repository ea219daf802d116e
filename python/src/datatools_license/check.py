"""Deciding what a stored license file is worth: the one state (active, expiring, expired, none,
invalid), why, and which features it unlocks (src/client/check.ts). Only the re-verified blob is
trusted; the file's other fields are not."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

from . import _js
from .catalogue import Catalogue, Feature
from .errors import ERROR_CODES, LicenseError
from .format import verify_blob
from .keys import KeyRing
from .license import License, days_left
from .store import LICENSE_FILE_VERSION, LicenseFileRecord, RawLicenseFile

#: The states of the license on this machine:
#: ``active`` (genuine, for these keys, more than :data:`EXPIRING_DAYS` days left),
#: ``expiring`` (as active, :data:`EXPIRING_DAYS` or fewer whole days left),
#: ``expired`` (genuine, but its expiry has passed), ``none`` (nothing activated) and
#: ``invalid`` (the stored file cannot be trusted; ``reason`` says why).
STATES = ("active", "expiring", "expired", "none", "invalid")
#: Why a stored license is ``invalid``: ``tampered`` (the blob no longer verifies, or the file's
#: fields were edited), ``untrusted_key`` (signed by a key these keys do not include),
#: ``corrupt`` (not a license file at all), ``unreadable`` (cannot be read: permissions) and
#: ``clock_rollback`` (the system clock is well behind a time the license was already seen).
INVALID_REASONS = ("tampered", "untrusted_key", "corrupt", "unreadable", "clock_rollback")

#: A license with this many whole days left, or fewer, is ``expiring``.
EXPIRING_DAYS = 30
#: How far, in milliseconds, the clock may fall behind the latest time the license was seen
#: before the check reports ``clock_rollback``: 24 hours (a hardware clock kept in local time,
#: a time-zone change or an NTP correction), short of anything that helps keep an expired one.
CLOCK_ROLLBACK_TOLERANCE_MS = 24 * 60 * 60 * 1000
#: How old, in milliseconds, the stored ``last_seen_at`` must be before a refreshing check
#: writes a newer one: one hour.
LAST_SEEN_REFRESH_MS = 60 * 60 * 1000

#: The exit status ``dtlicense status`` gives for each state.
STATUS_EXIT = {"active": 0, "expiring": 0, "none": 3, "expired": 4, "invalid": 5}


@dataclass(frozen=True)
class LicenseStatus:
    """The answer of a license check.

    Example::

        status = load_license(VENDOR_KEYS)
        if not status.usable:
            show_activation_dialog(status.message)
        elif status.has_feature("deduplicator"):
            enable_deduplicator()
    """

    #: One of :data:`STATES`.
    state: str
    #: The license file this answer is about.
    path: str
    #: True for ``active`` and ``expiring``: the license unlocks its features now.
    usable: bool = False
    #: The code behind a state that is not usable: ``LICENSE_NONE``, ``LICENSE_EXPIRED``,
    #: ``LICENSE_TAMPERED``, ``LICENSE_CORRUPT``, ``FILE_UNREADABLE``, ``KEY_UNKNOWN`` or
    #: ``CLOCK_ROLLBACK``; None when usable.
    code: Optional[str] = None
    #: One of :data:`INVALID_REASONS` when ``state`` is ``invalid``.
    reason: Optional[str] = None
    #: One line for people: what is wrong and what to do. None when active.
    message: Optional[str] = None
    #: The verified license; present for active, expiring, expired and clock_rollback.
    license: Optional[License] = None
    #: The features enabled now: the tier's when usable, none otherwise.
    features: tuple[Feature, ...] = ()
    #: The features the license's tier unlocks while it is usable.
    tier_features: tuple[Feature, ...] = ()
    #: Whole days until expiry, 0 once expired; None without a license.
    days_left: Optional[int] = None
    _enabled: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @property
    def tier(self) -> Optional[str]:
        return self.license.tier if self.license else None

    @property
    def exit_code(self) -> int:
        """What ``dtlicense status`` exits with for this state (0, 3, 4 or 5)."""
        return STATUS_EXIT[self.state]

    def has_feature(self, feature_id: str) -> bool:
        """True when the license is usable and its tier unlocks the feature."""
        return feature_id in self._enabled

    def to_json(self) -> dict[str, Any]:
        """The ``dtlicense status --json`` object (features as ids)."""
        lic = self.license
        return {
            "state": self.state,
            "license_key": lic.license_key if lic else None,
            "name": lic.name if lic else None,
            "email": lic.email if lic else None,
            "tier": lic.tier if lic else None,
            "features": [f.id for f in self.features],
            "issued_at": lic.issued_at if lic else None,
            "expires_at": lic.expires_at if lic else None,
            "days_left": self.days_left,
            "code": self.code,
            "reason": self.reason,
        }

    def refused(self, code: str, reason: str, message: str) -> LicenseStatus:
        """This answer made ``invalid``, for a check that refuses a license the offline check
        accepted (see :mod:`datatools_license.checkin`): nothing is enabled."""
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        return replace(
            self,
            state="invalid",
            usable=False,
            code=code,
            reason=reason,
            message=message,
            features=(),
            _enabled=frozenset(),
        )


def make_status(
    state: str,
    path: str,
    catalogue: Catalogue,
    now_ms: int,
    license: Optional[License] = None,
    code: Optional[str] = None,
    reason: Optional[str] = None,
    message: Optional[str] = None,
) -> LicenseStatus:
    usable = state in ("active", "expiring")
    tier_features = tuple(catalogue.features_for_tier(license.tier)) if license else ()
    features = tier_features if usable else ()
    expiry = _js.parse_time(license.expires_at) if license else None
    left = max(0, days_left(expiry, now_ms)) if expiry is not None else None
    return LicenseStatus(
        state=state,
        path=path,
        usable=usable,
        code=code,
        reason=reason,
        message=message,
        license=license,
        features=features,
        tier_features=tier_features,
        days_left=left,
        _enabled=frozenset(f.id for f in features),
    )


@dataclass(frozen=True)
class CheckedFile:
    """The stored file, checked: its status, its record when the blob verified, and the exact
    text read, so a refresh can tell whether the file changed meanwhile."""

    status: LicenseStatus
    record: Optional[LicenseFileRecord] = None
    text: Optional[str] = None


_REACTIVATE = "activate your license again with: dtlicense activate BLOB --name NAME --email EMAIL"


def _parse_record(text: str) -> tuple[Optional[dict[str, Any]], str, str]:
    """The file's JSON object, or the reason (corrupt or tampered) and why."""
    try:
        value = _js.parse_json(text)
    except ValueError:
        return None, "corrupt", "is not valid JSON"
    if not isinstance(value, dict):
        return None, "corrupt", "is not a JSON object"
    if not isinstance(value.get("blob"), str):
        return None, "corrupt", "holds no license blob"
    version = value.get("version")
    if not (_js.is_number(version) and version == LICENSE_FILE_VERSION):
        return None, "tampered", "has an unknown version field"
    return value, "", ""


def check_license_file(
    raw: RawLicenseFile, ring: KeyRing, catalogue: Catalogue, now_ms: int, path: str
) -> CheckedFile:
    """Checks the stored license at ``now_ms``. Pure apart from its inputs: the caller reads the
    file and passes what it found."""

    def status(state: str, **kw: Any) -> LicenseStatus:
        return make_status(state, path, catalogue, now_ms, **kw)

    if raw.kind == "missing":
        return CheckedFile(
            status(
                "none",
                code="LICENSE_NONE",
                message="no license is activated on this machine; activate one with: "
                "dtlicense activate BLOB --name NAME --email EMAIL",
            )
        )
    if raw.kind == "unreadable":
        return CheckedFile(
            status(
                "invalid",
                reason="unreadable",
                code="FILE_UNREADABLE",
                message=f"cannot read {path} ({raw.error}); make sure it belongs to you and "
                f"has mode 600 (chmod 600 {path})",
            )
        )

    def invalid(
        reason: str, code: str, message: str, license: Optional[License] = None
    ) -> LicenseStatus:
        return status("invalid", reason=reason, code=code, message=message, license=license)

    fields, bad, why = _parse_record(raw.text)
    if fields is None:
        if bad == "corrupt":
            st = invalid(
                "corrupt",
                "LICENSE_CORRUPT",
                f"{path} {why}: the file is damaged; run dtlicense deactivate --yes, then {_REACTIVATE}",
            )
        else:
            st = invalid(
                "tampered",
                "LICENSE_TAMPERED",
                f"{path} {why}: the file was changed by hand; run dtlicense deactivate --yes, "
                f"then {_REACTIVATE}",
            )
        return CheckedFile(st, text=raw.text)

    try:
        license = verify_blob(fields["blob"], ring)
    except LicenseError as err:
        if err.code == "KEY_UNKNOWN":
            st = invalid(
                "untrusted_key",
                "KEY_UNKNOWN",
                f"the stored license is signed by a key this version does not trust ({err.message}); "
                "ask the vendor for a license signed with the current key, then run dtlicense "
                "activate with it",
            )
        else:
            st = invalid(
                "tampered",
                "LICENSE_TAMPERED",
                f"the stored license does not verify ({err.message} [{err.code}]): the file was "
                f"changed by hand or damaged; run dtlicense deactivate --yes, then {_REACTIVATE}",
            )
        return CheckedFile(st, text=raw.text)

    # The bookkeeping times are written by this code only; a malformed one means a hand edit.
    last_seen = _js.parse_time(fields.get("last_seen_at"))
    activated_ok = _js.parse_time(fields.get("activated_at")) is not None
    renewed_ok = "renewed_at" not in fields or _js.parse_time(fields["renewed_at"]) is not None
    if last_seen is None or not activated_ok or not renewed_ok:
        st = invalid(
            "tampered",
            "LICENSE_TAMPERED",
            f"{path} has malformed activated_at, renewed_at or last_seen_at times: the file was "
            f"changed by hand; run dtlicense deactivate --yes, then {_REACTIVATE}",
        )
        return CheckedFile(st, text=raw.text)
    record = LicenseFileRecord(
        blob=fields["blob"],
        activated_at=fields["activated_at"],
        renewed_at=fields.get("renewed_at"),
        last_seen_at=fields["last_seen_at"],
    )

    rollback = _clock_rollback(license, last_seen, now_ms)
    if rollback is not None:
        return CheckedFile(
            invalid("clock_rollback", "CLOCK_ROLLBACK", rollback, license), record, raw.text
        )
    expires = _js.parse_time(license.expires_at)
    assert expires is not None  # verify_blob checked it
    if now_ms >= expires:
        st = status(
            "expired",
            code="LICENSE_EXPIRED",
            license=license,
            message=f"the license expired on {license.expires_at}; ask the vendor for a renewal, "
            "then run dtlicense renew BLOB",
        )
        return CheckedFile(st, record, raw.text)
    left = days_left(expires, now_ms)
    if left <= EXPIRING_DAYS:
        st = status(
            "expiring",
            license=license,
            message=f"the license expires in {left} day{'' if left == 1 else 's'} "
            f"({license.expires_at}); ask the vendor for a renewal, then run dtlicense renew BLOB",
        )
        return CheckedFile(st, record, raw.text)
    return CheckedFile(status("active", license=license), record, raw.text)


def _clock_rollback(license: License, last_seen: int, now_ms: int) -> Optional[str]:
    """The message for a clock set back, or None. The clock must not be further than the
    tolerance behind the latest of the last time this machine saw the license and the
    license's own issue time (which needs no trust in the file)."""
    issued = _js.parse_time(license.issued_at)
    assert issued is not None
    floor = max(issued, last_seen)
    if now_ms >= floor - CLOCK_ROLLBACK_TOLERANCE_MS:
        return None
    seen = "the license was last checked" if last_seen > issued else "the license was issued"
    return (
        f"the system clock ({_js.format_time(now_ms)}) is behind the time {seen} "
        f"({_js.format_time(floor)}); set the date and time correctly and check again "
        "(if the clock is right and was wrong before, run dtlicense deactivate --yes and "
        "activate again)"
    )


__all__: list[str] = [
    "CLOCK_ROLLBACK_TOLERANCE_MS",
    "EXPIRING_DAYS",
    "INVALID_REASONS",
    "LAST_SEEN_REFRESH_MS",
    "STATES",
    "STATUS_EXIT",
    "CheckedFile",
    "LicenseStatus",
    "check_license_file",
]
