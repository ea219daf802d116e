"""A buyer moving between the ``dtlicense`` command line and the Python app, end to end: blobs
minted by ``dtlicense mint``, files written by ``dtlicense activate`` read by Python, files
written by Python read by ``dtlicense status``, each side removing or renewing what the other
stored; the same states, reasons, features, codes and exit statuses. Real processes, the
real clock, a temporary home folder."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Optional

import pytest
from support import (
    ADA,
    DAY,
    DEV_PUB,
    OTHER_SEED_HEX,
    VENDOR_PUB,
    VENDOR_SEED_HEX,
    TypeScript,
    iso,
    record_text,
    sign,
    write_text,
)

from datatools_license import (
    LicenseClient,
    LicenseError,
    LicenseStatus,
    activate,
    deactivate,
    load_license,
    renew,
    verify_blob,
)

VENDOR_ENV = {"DATATOOLS_LICENSE_PRIVKEY": VENDOR_SEED_HEX, "DATATOOLS_LICENSE_PUBKEY": VENDOR_PUB}
ERROR_LINE = re.compile(r"^dtlicense: (.*) \[([A-Z_0-9]+)\]$", re.MULTILINE)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def mint(ts: TypeScript, home: Path, *args: str, env: Optional[dict[str, str]] = None) -> str:
    r = ts.cli(
        ["mint", "--no-log", "--name", ADA["name"], "--email", ADA["email"], *args], home, env
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def cli_error(r: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    """(exit status, code, message) of a refused dtlicense command."""
    m = ERROR_LINE.search(r.stderr)
    assert m, r.stderr
    return r.returncode, m.group(2), m.group(1)


def assert_same_status(
    ts: TypeScript, home: Path, status: LicenseStatus, env: Optional[dict[str, str]] = None
) -> None:
    code, theirs = ts.status_json(home, env)
    # days_left may differ by one if a day boundary passed between the two readings: compare
    # the rest exactly and that within a second of each other.
    mine = status.to_json()
    assert (code, {**theirs, "days_left": None}) == (status.exit_code, {**mine, "days_left": None})
    assert theirs["days_left"] == mine["days_left"]


def test_a_license_activated_by_dtlicense_is_read_by_python_and_removed_by_it(
    ts: TypeScript, home: Path
) -> None:
    blob = mint(ts, home, "--tier", "pro")
    r = ts.cli(["activate", blob, "--name", ADA["name"], "--email", ADA["email"]], home)
    assert r.returncode == 0, r.stderr
    status = load_license([DEV_PUB], os.path.join(home, ".datatools", "license.json"))
    assert (status.state, status.tier, status.usable) == ("active", "pro", True)
    assert status.has_feature("automation") and status.days_left in (364, 365)
    assert_same_status(ts, home, status)

    removed = deactivate(
        public_keys=[DEV_PUB], path=os.path.join(home, ".datatools", "license.json")
    )
    assert removed.removed and removed.previous.state == "active"
    code, theirs = ts.status_json(home)
    assert (code, theirs["state"], theirs["code"]) == (3, "none", "LICENSE_NONE")
    assert os.listdir(home / ".datatools") == []


def test_a_license_activated_by_python_is_read_by_dtlicense_and_removed_by_it(
    ts: TypeScript, home: Path
) -> None:
    path = os.path.join(home, ".datatools", "license.json")
    blob = mint(ts, home, "--tier", "lite")
    result = activate(blob, " ada LOVELACE", "ADA@example.com ", public_keys=[DEV_PUB], path=path)
    assert result.changed and result.status.state == "active"
    assert_same_status(ts, home, result.status)
    human = ts.cli(["status"], home)
    assert (
        human.returncode == 0 and "Deduplicator, Text Cleaner, Format Standardizer" in human.stdout
    )

    r = ts.cli(["deactivate", "--yes"], home)
    assert r.returncode == 0, r.stderr
    assert load_license([DEV_PUB], path).state == "none"


def test_a_blob_minted_by_dtlicense_reads_as_dtlicense_describes_it(
    ts: TypeScript, home: Path
) -> None:
    r = ts.cli(
        [
            "mint",
            "--no-log",
            "--json",
            "--name",
            "Zoë Ångström-Müller",
            "--email",
            "ops@acme.example",
            "--tier",
            "pro",
            "--key",
            "DT1-PRO-ACME-2026",
            "--years",
            "3",
        ],
        home,
    )
    record = json.loads(r.stdout)
    lic = verify_blob("  " + record["blob"][:40] + "\n" + record["blob"][40:] + "\n", [DEV_PUB])
    assert lic.blob == record["blob"]
    assert {k: v for k, v in lic.payload().items() if k not in ("v", "kid")} == {
        k: v for k, v in record.items() if k != "blob"
    }


def test_the_vendors_own_key_on_both_sides_and_a_rotation(ts: TypeScript, home: Path) -> None:
    path = os.path.join(home, ".datatools", "license.json")
    blob = mint(ts, home, env=VENDOR_ENV)
    activate(blob, **ADA, public_keys=[VENDOR_PUB], path=path)
    pub_only = {"DATATOOLS_LICENSE_PUBKEY": VENDOR_PUB}
    assert_same_status(ts, home, load_license([VENDOR_PUB], path), pub_only)
    # A build that dropped the key: untrusted_key on both sides.
    dev_only: dict[str, str] = {}
    status = load_license([DEV_PUB], path)
    assert (status.state, status.reason, status.code) == ("invalid", "untrusted_key", "KEY_UNKNOWN")
    assert_same_status(ts, home, status, dev_only)
    # A rotated ring trusting both: active again on both sides.
    both = {"DATATOOLS_LICENSE_PUBKEY": f"{DEV_PUB},{VENDOR_PUB}"}
    assert_same_status(ts, home, load_license([DEV_PUB, VENDOR_PUB], path), both)


def write_record(
    home: Path, blob: str, last_seen: dt.datetime, activated: Optional[dt.datetime] = None
) -> str:
    path = os.path.join(home, ".datatools", "license.json")
    write_text(path, record_text(blob, activated=activated or last_seen, last_seen=last_seen))
    return path


def state_cases() -> list[tuple[str, str, Optional[str]]]:
    return [
        ("active", "active", None),
        ("expiring", "expiring", None),
        ("expired", "expired", None),
        ("clock rollback", "invalid", "clock_rollback"),
        ("untrusted key", "invalid", "untrusted_key"),
        ("tampered", "invalid", "tampered"),
        ("corrupt", "invalid", "corrupt"),
        ("unreadable", "invalid", "unreadable"),
        ("none", "none", None),
    ]


@pytest.mark.parametrize("case, state, reason", state_cases())
def test_each_state_reads_the_same_on_both_sides_with_its_exit_status(
    ts: TypeScript, home: Path, case: str, state: str, reason: Optional[str]
) -> None:
    t = now()
    path = os.path.join(home, ".datatools", "license.json")
    if case == "active":
        write_record(home, sign(issued_at=iso(t - DAY), expires_at=iso(t + 200 * DAY)), t - 2 * DAY)
    elif case == "expiring":
        write_record(
            home,
            sign(
                issued_at=iso(t - 300 * DAY), expires_at=iso(t + 12 * DAY + dt.timedelta(hours=12))
            ),
            t - DAY,
        )
    elif case == "expired":
        write_record(
            home, sign(issued_at=iso(t - 400 * DAY), expires_at=iso(t - 35 * DAY)), t - 40 * DAY
        )
    elif case == "clock rollback":
        write_record(
            home, sign(issued_at=iso(t - 10 * DAY), expires_at=iso(t + 300 * DAY)), t + 5 * DAY
        )
    elif case == "untrusted key":
        write_record(
            home, sign(OTHER_SEED_HEX, issued_at=iso(t - DAY), expires_at=iso(t + 200 * DAY)), t
        )
    elif case == "tampered":
        blob = sign(issued_at=iso(t - DAY), expires_at=iso(t + 200 * DAY))
        forged = sign(tier="pro", issued_at=iso(t - DAY), expires_at=iso(t + 200 * DAY))
        write_record(home, forged.split(".")[0] + "." + blob.split(".")[1], t)
    elif case == "corrupt":
        os.makedirs(os.path.dirname(path))
        Path(path).write_text('{"version": 1, "blob": "DTLIC2:', encoding="utf-8")
    elif case == "unreadable":
        os.makedirs(path)
    before = {n: (home / ".datatools" / n).read_bytes() for n in _files(home)}
    status = load_license([DEV_PUB], path)  # reads only: nothing written
    assert (status.state, status.reason) == (state, reason)
    assert {n: (home / ".datatools" / n).read_bytes() for n in _files(home)} == before
    assert_same_status(ts, home, status)
    assert load_license([DEV_PUB], path, refresh=True).to_json() == status.to_json()


def comparable(message: str, home: Path) -> str:
    """A message with its home folder and its reading of the real clock masked: the two sides
    read the clock a moment apart."""
    return re.sub(
        r"the system clock \(\S+\)", "the system clock (…)", message.replace(str(home), "<HOME>")
    )


def _files(home: Path) -> list[str]:
    folder = home / ".datatools"
    return (
        sorted(n for n in os.listdir(folder) if (folder / n).is_file()) if folder.exists() else []
    )


@pytest.mark.parametrize(
    "what",
    [
        "wrong name",
        "wrong e-mail",
        "damaged",
        "untrusted",
        "expired",
        "issued tomorrow",
        "v1",
        "empty",
        "exists",
    ],
)
def test_a_refused_activation_has_the_same_code_and_message_and_writes_nothing(
    ts: TypeScript, tmp_path: Path, what: str
) -> None:
    t = now()
    good = sign(issued_at=iso(t - DAY), expires_at=iso(t + 200 * DAY))
    name, email = ADA["name"], ADA["email"]
    blob = good
    if what == "wrong name":
        name = "Ada Byron"
    elif what == "wrong e-mail":
        email = "ada@example.org"
    elif what == "damaged":
        blob = good[:100] + good[101:]
    elif what == "untrusted":
        blob = sign(OTHER_SEED_HEX, issued_at=iso(t - DAY), expires_at=iso(t + 200 * DAY))
    elif what == "expired":
        blob = sign(issued_at=iso(t - 400 * DAY), expires_at=iso(t - DAY))
    elif what == "issued tomorrow":
        blob = sign(issued_at=iso(t + 3 * DAY), expires_at=iso(t + 300 * DAY))
    elif what == "v1":
        blob = "DTLIC1:" + good[7:]
    elif what == "empty":
        blob = "  \n"
    homes = [tmp_path / "python", tmp_path / "typescript"]
    if what == "exists":
        other = sign(
            license_key="DT1-CORE-11111111-11111111",
            issued_at=iso(t - DAY),
            expires_at=iso(t + 100 * DAY),
        )
        for h in homes:
            write_record(h, other, t)
    else:
        for h in homes:
            h.mkdir()
    before = [{n: (h / ".datatools" / n).read_bytes() for n in _files(h)} for h in homes]

    path = os.path.join(homes[0], ".datatools", "license.json")
    with pytest.raises(LicenseError) as caught:
        activate(blob, name, email, public_keys=[DEV_PUB], path=path)
    r = ts.cli(["activate", blob, "--name", name, "--email", email], homes[1])
    exit_status, code, message = cli_error(r)
    assert exit_status == 1
    assert (code, comparable(message, homes[1])) == (
        caught.value.code,
        comparable(caught.value.message, homes[0]),
    )
    after = [{n: (h / ".datatools" / n).read_bytes() for n in _files(h)} for h in homes]
    assert after == before


def test_renewals_cross_over_both_ways(ts: TypeScript, home: Path) -> None:
    t = now()
    path = os.path.join(home, ".datatools", "license.json")
    first = sign(issued_at=iso(t - DAY), expires_at=iso(t + 100 * DAY))
    second = sign(
        license_key="DT1-CORE-00000000-00000002",
        issued_at=iso(t - DAY),
        expires_at=iso(t + 465 * DAY),
    )
    third = sign(
        license_key="DT1-CORE-00000000-00000003",
        issued_at=iso(t - DAY),
        expires_at=iso(t + 830 * DAY),
    )
    r = ts.cli(["activate", first, "--name", ADA["name"], "--email", ADA["email"]], home)
    assert r.returncode == 0, r.stderr
    renewed = renew(second, public_keys=[DEV_PUB], path=path)
    assert renewed.changed and renewed.previous and renewed.previous.blob == first
    assert_same_status(ts, home, renewed.status)
    r = ts.cli(["renew", third], home)
    assert r.returncode == 0, r.stderr
    status = load_license([DEV_PUB], path)
    assert status.license and status.license.blob == third
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    assert list(record) == ["version", "blob", "activated_at", "renewed_at", "last_seen_at"]
    # An earlier expiry is refused on both sides with the same words.
    with pytest.raises(LicenseError) as caught:
        renew(second, public_keys=[DEV_PUB], path=path)
    assert cli_error(ts.cli(["renew", second], home))[1:] == (
        caught.value.code,
        caught.value.message,
    )


def test_python_refreshes_the_time_seen_that_dtlicense_then_holds_the_clock_to(
    ts: TypeScript, home: Path
) -> None:
    t = now()
    path = write_record(
        home, sign(issued_at=iso(t - 10 * DAY), expires_at=iso(t + 300 * DAY)), t - 3 * DAY
    )
    client = LicenseClient([DEV_PUB], path)
    assert client.status(refresh=True).state == "active"
    seen = json.loads(Path(path).read_text(encoding="utf-8"))["last_seen_at"]
    assert dt.datetime.strptime(seen, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc) >= t
    code, theirs = ts.status_json(home)
    assert (code, theirs["state"]) == (0, "active")
