"""The state of a stored license file (active, expiring, expired, none, invalid with its reason),
read at a frozen time, the clock-rollback rule, and the last_seen_at refresh; and the same file
at the same time read by the TypeScript client, answer for answer and byte for byte."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from support import (
    DAY,
    DEV_PUB,
    NOW,
    OTHER_SEED_HEX,
    VENDOR_PUB,
    Clock,
    TypeScript,
    iso,
    read_bytes,
    record_text,
    sign,
    status_answer,
    write_text,
)

from datatools_license import (
    CLOCK_ROLLBACK_TOLERANCE_MS,
    LicenseClient,
    LicenseStatus,
    load_license,
)
from datatools_license.store import LicenseFileRecord, serialize_record

HOUR = dt.timedelta(hours=1)


def status_at(
    path: str, now: dt.datetime, keys: Optional[list[str]] = None, refresh: bool = False
) -> LicenseStatus:
    return load_license(keys or [DEV_PUB], path, now=Clock(now), refresh=refresh)


# ---------------------------------------------------------------------------------------------
# The states, in Python alone


def test_is_none_with_license_none_when_nothing_was_activated_and_writes_nothing(
    lic_path: str,
) -> None:
    status = status_at(lic_path, NOW, refresh=True)
    assert (status.state, status.code, status.usable, status.license, status.days_left) == (
        "none",
        "LICENSE_NONE",
        False,
        None,
        None,
    )
    assert not status.has_feature("deduplicator")
    assert not os.path.exists(os.path.dirname(lic_path))


def test_is_active_with_the_tiers_features_and_days_left(lic_path: str) -> None:
    write_text(lic_path, record_text(sign(tier="lite")))
    status = status_at(lic_path, NOW)
    assert (status.state, status.usable, status.code, status.message, status.tier) == (
        "active",
        True,
        None,
        None,
        "lite",
    )
    assert status.days_left == 365
    assert [f.id for f in status.features] == [
        "deduplicator",
        "text-cleaner",
        "format-standardizer",
    ]
    assert status.has_feature("text-cleaner") and not status.has_feature("pivot-builder")
    assert status.exit_code == 0


@pytest.mark.parametrize(
    "left, state",
    [
        (dt.timedelta(days=31), "active"),
        (dt.timedelta(days=30, hours=23), "expiring"),
        (HOUR, "expiring"),
    ],
)
def test_is_expiring_with_30_whole_days_left_or_fewer(
    lic_path: str, left: dt.timedelta, state: str
) -> None:
    write_text(lic_path, record_text(sign(expires_at=iso(NOW + left))))
    status = status_at(lic_path, NOW)
    assert status.state == state and status.usable and status.has_feature("deduplicator")
    if state == "expiring":
        assert status.message is not None and "ask the vendor for a renewal" in status.message


def test_is_expired_from_the_expiry_second_on_and_enables_nothing(lic_path: str) -> None:
    write_text(lic_path, record_text(sign(expires_at=iso(NOW + DAY))))
    status = status_at(lic_path, NOW + DAY)
    assert (status.state, status.code, status.days_left, status.features) == (
        "expired",
        "LICENSE_EXPIRED",
        0,
        (),
    )
    assert [f.id for f in status.tier_features][:1] == ["deduplicator"]
    assert not status.has_feature("deduplicator") and status.exit_code == 4


def test_refuses_a_clock_more_than_24_hours_behind_the_last_check(lic_path: str) -> None:
    write_text(lic_path, record_text(sign(), last_seen=NOW + 10 * DAY))
    within = NOW + 10 * DAY - dt.timedelta(milliseconds=CLOCK_ROLLBACK_TOLERANCE_MS)
    assert status_at(lic_path, within).state == "active"
    status = status_at(lic_path, within - dt.timedelta(seconds=1))
    assert (status.state, status.reason, status.code, status.usable) == (
        "invalid",
        "clock_rollback",
        "CLOCK_ROLLBACK",
        False,
    )
    assert status.license is not None and "last checked" in (status.message or "")


def test_refuses_a_clock_more_than_24_hours_behind_the_signed_issue_time(lic_path: str) -> None:
    write_text(lic_path, record_text(sign(issued_at=iso(NOW + 3 * DAY)), last_seen=NOW - DAY))
    status = status_at(lic_path, NOW)
    assert status.reason == "clock_rollback" and "was issued" in (status.message or "")


def test_refreshes_last_seen_only_when_asked_and_over_an_hour_old(lic_path: str) -> None:
    text = record_text(sign())
    write_text(lic_path, text)
    status_at(lic_path, NOW + 2 * HOUR)
    assert read_bytes(lic_path) == text.encode()
    status_at(lic_path, NOW + 59 * dt.timedelta(minutes=1), refresh=True)
    assert read_bytes(lic_path) == text.encode()
    status_at(lic_path, NOW + 2 * HOUR, refresh=True)
    assert read_bytes(lic_path) == record_text(sign(), last_seen=NOW + 2 * HOUR).encode()
    assert not os.path.exists(lic_path + ".lock")


def test_a_refresh_that_cannot_write_never_fails_the_check(
    lic_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = record_text(sign())
    write_text(lic_path, text)

    def read_only(src: str, dst: str) -> None:
        raise OSError(30, "Read-only file system")  # EROFS, as root cannot be refused by mode

    monkeypatch.setattr(os, "replace", read_only)
    assert status_at(lic_path, NOW + 2 * HOUR, refresh=True).state == "active"
    assert read_bytes(lic_path) == text.encode()
    assert sorted(os.listdir(os.path.dirname(lic_path))) == ["license.json"]


def test_a_check_in_may_refuse_a_usable_license_but_never_unlock_one(lic_path: str) -> None:
    class Revoked:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def review(self, status: LicenseStatus, ring: Any, now_ms: int) -> Optional[LicenseStatus]:
            self.seen.append(status.state)
            return status.refused("LICENSE_TAMPERED", "revoked", "the vendor revoked this license")

    class Unlocks:
        def review(self, status: LicenseStatus, ring: Any, now_ms: int) -> Optional[LicenseStatus]:
            return LicenseStatus(state="active", path=status.path, usable=True)

    write_text(lic_path, record_text(sign()))
    check_in = Revoked()
    status = load_license([DEV_PUB], lic_path, now=Clock(NOW), check_in=check_in)
    assert (status.state, status.reason, status.usable, status.features) == (
        "invalid",
        "revoked",
        False,
        (),
    )
    assert not status.has_feature("deduplicator") and check_in.seen == ["active"]
    assert load_license([DEV_PUB], lic_path, now=Clock(NOW), check_in=Unlocks()).state == "active"
    assert (
        load_license([DEV_PUB], lic_path, now=Clock(NOW + 400 * DAY), check_in=Unlocks()).state
        == "expired"
    )
    assert check_in.seen == ["active"]


def test_the_clock_must_say_which_time_zone_it_is_in(lic_path: str) -> None:
    with pytest.raises(ValueError):
        load_license([DEV_PUB], lic_path, now=lambda: dt.datetime(2026, 1, 1))  # naive on purpose


# ---------------------------------------------------------------------------------------------
# The same files, read by the TypeScript client


def scenarios() -> list[tuple[str, Callable[[str], None], dt.datetime, list[str]]]:
    """(name, how the home's license file is made, when it is read, the trusted keys)."""
    good = sign()

    def text(t: str) -> Callable[[str], None]:
        return lambda path: write_text(path, t)

    def directory(path: str) -> None:
        os.makedirs(path)

    rec = json.loads(record_text(good))
    edited_blob = good.replace(good.split(".")[0], sign(tier="pro").split(".")[0])
    return [
        ("none", lambda path: None, NOW, [DEV_PUB]),
        ("active", text(record_text(good)), NOW, [DEV_PUB]),
        ("active, pro", text(record_text(sign(tier="pro"))), NOW, [DEV_PUB]),
        ("active, a rotated ring", text(record_text(good)), NOW, [VENDOR_PUB, DEV_PUB]),
        (
            "active, blob folded over lines",
            text(record_text(good[:50] + "\n  " + good[50:])),
            NOW,
            [DEV_PUB],
        ),
        (
            "active, unknown fields",
            text(json.dumps({**rec, "extra": [1, {"a": None}]})),
            NOW,
            [DEV_PUB],
        ),
        ("active, version 1.0", text(json.dumps({**rec, "version": 1.0})), NOW, [DEV_PUB]),
        ("active, renewed", text(record_text(good, renewed=NOW)), NOW, [DEV_PUB]),
        (
            "expiring, 30 days",
            text(record_text(sign(expires_at=iso(NOW + 30 * DAY)))),
            NOW,
            [DEV_PUB],
        ),
        (
            "expiring, 1 day",
            text(record_text(sign(expires_at=iso(NOW + DAY + HOUR)))),
            NOW,
            [DEV_PUB],
        ),
        ("expiring, hours", text(record_text(sign(expires_at=iso(NOW + HOUR)))), NOW, [DEV_PUB]),
        (
            "active, 31 days",
            text(record_text(sign(expires_at=iso(NOW + 31 * DAY)))),
            NOW,
            [DEV_PUB],
        ),
        ("expired, at the second", text(record_text(good)), NOW + 365 * DAY, [DEV_PUB]),
        ("expired, long ago", text(record_text(good)), NOW + 900 * DAY, [DEV_PUB]),
        ("corrupt, empty", text(""), NOW, [DEV_PUB]),
        ("corrupt, not JSON", text('{"version": 1, '), NOW, [DEV_PUB]),
        ("corrupt, a byte order mark", text("\ufeff" + record_text(good)), NOW, [DEV_PUB]),
        ("corrupt, an array", text("[]"), NOW, [DEV_PUB]),
        ("corrupt, no blob", text('{"version":1}'), NOW, [DEV_PUB]),
        ("corrupt, blob a number", text('{"version":1,"blob":5}'), NOW, [DEV_PUB]),
        ("corrupt, far too large", text(record_text(good) + " " * 70000), NOW, [DEV_PUB]),
        (
            "corrupt, nested deeper than Python recurses",
            text("[" * 3000 + "]" * 3000),
            NOW,
            [DEV_PUB],
        ),
        (
            "active, a deep unknown field",
            text(json.dumps(rec)[:-1] + ',"x":' + "[" * 3000 + "]" * 3000 + "}"),
            NOW,
            [DEV_PUB],
        ),
        ("tampered, version 2", text(json.dumps({**rec, "version": 2})), NOW, [DEV_PUB]),
        ("tampered, version as text", text(json.dumps({**rec, "version": "1"})), NOW, [DEV_PUB]),
        (
            "tampered, the tier edited",
            text(json.dumps({**rec, "blob": edited_blob})),
            NOW,
            [DEV_PUB],
        ),
        ("tampered, not a blob", text(json.dumps({**rec, "blob": "DTLIC1:abc"})), NOW, [DEV_PUB]),
        (
            "tampered, a malformed last_seen_at",
            text(json.dumps({**rec, "last_seen_at": "yesterday"})),
            NOW,
            [DEV_PUB],
        ),
        (
            "tampered, no activated_at",
            text(json.dumps({k: v for k, v in rec.items() if k != "activated_at"})),
            NOW,
            [DEV_PUB],
        ),
        (
            "tampered, renewed_at null",
            text(json.dumps({**rec, "renewed_at": None})),
            NOW,
            [DEV_PUB],
        ),
        (
            "tampered, a fraction of a second",
            text(json.dumps({**rec, "last_seen_at": iso(NOW)[:-1] + ".5Z"})),
            NOW,
            [DEV_PUB],
        ),
        ("untrusted key", text(record_text(sign(OTHER_SEED_HEX))), NOW, [DEV_PUB]),
        ("untrusted key, after a rotation dropped it", text(record_text(good)), NOW, [VENDOR_PUB]),
        ("unreadable, a folder", directory, NOW, [DEV_PUB]),
        (
            "clock rollback, behind the last check",
            text(record_text(good, last_seen=NOW + 3 * DAY)),
            NOW,
            [DEV_PUB],
        ),
        (
            "clock rollback, within the tolerance",
            text(record_text(good, last_seen=NOW + 23 * HOUR)),
            NOW,
            [DEV_PUB],
        ),
        (
            "clock rollback, behind the issue time",
            text(record_text(sign(issued_at=iso(NOW + 2 * DAY)), last_seen=NOW - DAY)),
            NOW,
            [DEV_PUB],
        ),
        (
            "clock rollback, of an expired license",
            text(record_text(good, last_seen=NOW + 500 * DAY)),
            NOW + 400 * DAY,
            [DEV_PUB],
        ),
    ]


SCENARIOS = scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_reads_each_file_as_the_typescript_client_does(
    ts: TypeScript, home: Path, scenario: tuple[str, Callable[[str], None], dt.datetime, list[str]]
) -> None:
    _, make, now, keys = scenario
    path = os.path.join(home, ".datatools", "license.json")
    make(path)
    before = read_bytes(path)
    mine = status_answer(load_license(keys, path, now=Clock(now)))
    theirs = ts.oracle("status", home=str(home), keys=keys, now=iso(now), refresh=False)
    assert mine == theirs
    assert read_bytes(path) == before


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_refreshes_each_file_as_the_typescript_client_does(
    ts: TypeScript,
    tmp_path: Path,
    scenario: tuple[str, Callable[[str], None], dt.datetime, list[str]],
) -> None:
    _, make, now, keys = scenario
    later = now + 2 * HOUR
    homes = [tmp_path / "python", tmp_path / "typescript"]
    for h in homes:
        make(os.path.join(h, ".datatools", "license.json"))
    mine = status_answer(
        load_license(
            keys,
            os.path.join(homes[0], ".datatools", "license.json"),
            now=Clock(later),
            refresh=True,
        )
    )
    theirs = ts.oracle("status", home=str(homes[1]), keys=keys, now=iso(later), refresh=True)
    assert mine["json"] == theirs["json"]
    a, b = (h / ".datatools" / "license.json" for h in homes)
    assert (a.is_dir(), read_bytes(str(a))) == (b.is_dir(), read_bytes(str(b)))
    assert listing(homes[0]) == listing(homes[1])  # no lock or temporary file left behind


def listing(home: Path) -> Optional[list[str]]:
    folder = home / ".datatools"
    return sorted(os.listdir(folder)) if folder.exists() else None


def test_serializes_a_record_byte_for_byte_as_the_typescript_client(ts: TypeScript) -> None:
    records: list[dict[str, Any]] = [
        {"version": 1, "blob": sign(), "activated_at": iso(NOW), "last_seen_at": iso(NOW)},
        {
            "version": 1,
            "blob": sign(),
            "activated_at": iso(NOW),
            "renewed_at": iso(NOW + DAY),
            "last_seen_at": iso(NOW),
        },
    ]
    mine = [
        serialize_record(
            LicenseFileRecord(
                blob=r["blob"],
                activated_at=r["activated_at"],
                renewed_at=r.get("renewed_at"),
                last_seen_at=r["last_seen_at"],
            )
        )
        for r in records
    ]
    assert mine == ts.oracle("serialize", records=records)


def test_a_client_object_checks_as_load_license_does(lic_path: str) -> None:
    write_text(lic_path, record_text(sign()))
    assert LicenseClient([DEV_PUB], lic_path, now=Clock()).status() == status_at(lic_path, NOW)
