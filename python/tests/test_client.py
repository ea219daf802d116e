"""Activate, renew and deactivate: the rules, the codes, what is written (atomically, mode 600)
and that a refused change writes nothing; and the same sequences of changes run by the
TypeScript client on a home of its own, step for step and byte for byte."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from support import (
    ADA,
    DAY,
    DEV_PUB,
    NOW,
    OTHER_SEED_HEX,
    Clock,
    TypeScript,
    iso,
    read_bytes,
    sign,
    status_answer,
)

from datatools_license import (
    ChangeResult,
    LicenseClient,
    LicenseError,
    RemoveResult,
    activate,
    deactivate,
    load_license,
    renew,
)

HOUR = dt.timedelta(hours=1)


def client(path: str, clock: Clock) -> LicenseClient:
    return LicenseClient([DEV_PUB], path, now=clock)


def code_of(fn: Any) -> str:
    with pytest.raises(LicenseError) as caught:
        fn()
    return caught.value.code


def test_activate_stores_the_license_with_mode_600_in_a_folder_of_mode_700(lic_path: str) -> None:
    result = activate(
        sign(), ADA["name"], ADA["email"], public_keys=[DEV_PUB], path=lic_path, now=Clock()
    )
    assert result.changed and result.previous is None and result.status.state == "active"
    assert stat.S_IMODE(os.stat(lic_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(lic_path)).st_mode) == 0o700
    record = json.loads(read_bytes(lic_path) or b"")
    assert record == {
        "version": 1,
        "blob": sign(),
        "activated_at": iso(NOW),
        "last_seen_at": iso(NOW),
    }
    assert sorted(os.listdir(os.path.dirname(lic_path))) == ["license.json"]


def test_activate_compares_name_and_email_ignoring_case_spacing_and_unicode_form(
    lic_path: str,
) -> None:
    blob = sign(name="Jürgen Straße", email="J.Strasse@Example.com")
    c = client(lic_path, Clock())
    assert c.activate(blob, "  JU\u0308RGEN   STRASSE ", "j.strasse@example.COM\n").changed


@pytest.mark.parametrize(
    "name, email, which",
    [
        ("Ada Byron", ADA["email"], "the name you gave does not match"),
        (ADA["name"], "ada@example.org", "the e-mail you gave does not match"),
        ("Ada Byron", "ada@example.org", "neither the name nor the e-mail you gave matches"),
    ],
)
def test_activate_refuses_another_buyers_identity_and_writes_nothing(
    lic_path: str, name: str, email: str, which: str
) -> None:
    with pytest.raises(LicenseError) as caught:
        client(lic_path, Clock()).activate(sign(), name, email)
    assert caught.value.code == "IDENTITY_MISMATCH" and caught.value.message.startswith(which)
    assert ADA["name"] not in caught.value.message and read_bytes(lic_path) is None


def test_activate_refuses_an_expired_license_and_a_clock_behind_the_issue_time(
    lic_path: str,
) -> None:
    c = client(lic_path, Clock(NOW + 365 * DAY))
    assert code_of(lambda: c.activate(sign(), **ADA)) == "LICENSE_EXPIRED"
    c = client(lic_path, Clock(NOW - DAY - dt.timedelta(seconds=1)))
    assert code_of(lambda: c.activate(sign(), **ADA)) == "CLOCK_ROLLBACK"
    assert read_bytes(lic_path) is None
    assert client(lic_path, Clock(NOW - DAY)).activate(sign(), **ADA).changed


def test_activate_over_another_usable_license_needs_force(lic_path: str) -> None:
    c = client(lic_path, Clock())
    c.activate(sign(), **ADA)
    before = read_bytes(lic_path)
    other = sign(tier="pro", license_key="DT1-PRO-00000000-00000001")
    assert code_of(lambda: c.activate(other, **ADA)) == "LICENSE_EXISTS"
    assert read_bytes(lic_path) == before
    result = c.activate(other, **ADA, force=True)
    assert result.changed and result.previous and result.previous.tier == "core"
    assert not c.activate(other, **ADA).changed


def test_renew_replaces_the_license_keeping_activation_and_the_latest_time_seen(
    lic_path: str,
) -> None:
    clock = Clock()
    c = client(lic_path, clock)
    c.activate(sign(), **ADA)
    clock.now = NOW + 300 * DAY
    c.status(refresh=True)
    clock.now = NOW + 299 * DAY  # a clock a day slow: within the tolerance
    newer = sign(expires_at=iso(NOW + 730 * DAY), license_key="DT1-CORE-00000000-00000002")
    result = c.renew(newer)
    assert result.changed and result.status.license and result.status.license.blob == newer
    record = json.loads(read_bytes(lic_path) or b"")
    assert record["activated_at"] == iso(NOW) and record["renewed_at"] == iso(NOW + 299 * DAY)
    assert record["last_seen_at"] == iso(NOW + 300 * DAY)


def test_renew_refuses_another_buyer_an_earlier_expiry_and_no_license(lic_path: str) -> None:
    c = client(lic_path, Clock())
    assert code_of(lambda: c.renew(sign())) == "LICENSE_NONE"
    c.activate(sign(), **ADA)
    before = read_bytes(lic_path)
    assert (
        code_of(lambda: c.renew(sign(email="eve@example.com", expires_at=iso(NOW + 900 * DAY))))
        == "RENEW_DIFFERENT_BUYER"
    )
    assert code_of(lambda: c.renew(sign(expires_at=iso(NOW + 100 * DAY)))) == "RENEW_EARLIER_EXPIRY"
    assert read_bytes(lic_path) == before
    assert renew(sign(), public_keys=[DEV_PUB], path=lic_path, now=Clock()).changed is False


def test_deactivate_removes_the_file_whatever_its_state(lic_path: str) -> None:
    os.makedirs(os.path.dirname(lic_path))
    with open(lic_path, "w", encoding="utf-8") as f:
        f.write("not a license")
    result = deactivate(public_keys=[DEV_PUB], path=lic_path, now=Clock())
    assert result.removed and result.previous.reason == "corrupt"
    assert read_bytes(lic_path) is None and os.listdir(os.path.dirname(lic_path)) == []
    assert not deactivate(public_keys=[DEV_PUB], path=lic_path).removed
    assert load_license([DEV_PUB], lic_path).state == "none"


def test_a_change_removes_the_temporary_files_a_killed_write_left(lic_path: str) -> None:
    folder = os.path.dirname(lic_path)
    os.makedirs(folder)
    for name in (".license.json.0a1b2c3d4e5f.tmp", ".license.json.ffff.tmp"):
        Path(folder, name).write_text("partial")
    Path(folder, ".license.json.notes").write_text("kept")
    client(lic_path, Clock()).activate(sign(), **ADA)
    assert sorted(os.listdir(folder)) == [".license.json.notes", "license.json"]


# ---------------------------------------------------------------------------------------------
# The same changes, made by the TypeScript client

Step = tuple[str, dict[str, Any], dt.datetime]


def python_step(path: str, op: str, args: dict[str, Any], now: dt.datetime) -> Any:
    c = client(path, Clock(now))
    try:
        if op == "activate":
            result: Any = c.activate(
                args["blob"], args["name"], args["email"], force=args.get("force", False)
            )
        elif op == "renew":
            result = c.renew(args["blob"])
        elif op == "deactivate":
            result = c.deactivate()
        else:
            return status_answer(c.status())
    except LicenseError as err:
        return {"error": {"code": err.code, "message": err.message}}
    if isinstance(result, RemoveResult):
        p = result.previous
        return {
            "ok": {
                "removed": result.removed,
                "previous": {"json": p.to_json(), "usable": p.usable, "message": p.message},
            }
        }
    assert isinstance(result, ChangeResult)
    s = result.status
    return {
        "ok": {
            "changed": result.changed,
            "previous": result.previous.payload() if result.previous else None,
            "status": {"json": s.to_json(), "usable": s.usable, "message": s.message},
        }
    }


def same_home(answer: Any, home: Path) -> Any:
    """The answer with the home folder's path written as <HOME>, so two homes compare."""
    return json.loads(json.dumps(answer).replace(str(home), "<HOME>"))


def sequences() -> dict[str, list[Step]]:
    good = sign()
    pro = sign(tier="pro", license_key="DT1-PRO-00000000-00000001")
    later = sign(expires_at=iso(NOW + 730 * DAY), license_key="DT1-CORE-00000000-00000002")
    a = {"blob": good, **ADA}
    return {
        "activate, again, another without and with force": [
            ("activate", a, NOW),
            ("activate", a, NOW + HOUR),
            ("activate", {**a, "blob": pro}, NOW),
            ("activate", {**a, "blob": pro, "force": True}, NOW + 2 * DAY),
            (
                "activate",
                {**a, "name": "ADA  lovelace", "email": " Ada@Example.com"},
                NOW + 3 * DAY,
            ),
        ],
        "identity mismatches": [
            ("activate", {**a, "name": "Ada Byron"}, NOW),
            ("activate", {**a, "email": "ada@example.org"}, NOW),
            ("activate", {"blob": good, "name": "Eve", "email": "eve@example.org"}, NOW),
            (
                "activate",
                {
                    **a,
                    "blob": sign(name="Zoë Ångström", email="Zoe@Acme.example"),
                    "name": "zoe\u0308 a\u030angstro\u0308m",
                    "email": "ZOE@acme.EXAMPLE",
                },
                NOW,
            ),
        ],
        "bad blobs": [
            ("activate", {**a, "blob": ""}, NOW),
            ("activate", {**a, "blob": good[:-2]}, NOW),
            ("activate", {**a, "blob": sign(OTHER_SEED_HEX)}, NOW),
            ("renew", {"blob": "DTLIC1:x"}, NOW),
        ],
        "expired and early licenses": [
            ("activate", a, NOW + 365 * DAY),
            ("activate", {**a, "blob": sign(issued_at=iso(NOW + 2 * DAY))}, NOW),
            ("activate", {**a, "blob": sign(issued_at=iso(NOW + 23 * HOUR))}, NOW),
        ],
        "a clock set back": [
            ("activate", a, NOW),
            ("status", {}, NOW + 10 * DAY),
            ("renew", {"blob": later}, NOW + 10 * DAY + HOUR),
            ("activate", {**a, "blob": pro, "force": True}, NOW + 2 * DAY),
            ("renew", {"blob": later}, NOW + 2 * DAY),
            ("activate", a, NOW + 12 * DAY),
        ],
        "renewals": [
            ("renew", {"blob": later}, NOW),
            ("activate", a, NOW),
            ("renew", {"blob": good}, NOW + DAY),
            (
                "renew",
                {"blob": sign(email="eve@example.com", expires_at=iso(NOW + 900 * DAY))},
                NOW + DAY,
            ),
            ("renew", {"blob": sign(expires_at=iso(NOW + 30 * DAY))}, NOW + DAY),
            ("renew", {"blob": later}, NOW + 400 * DAY),
            ("renew", {"blob": later}, NOW + 300 * DAY),
            ("renew", {"blob": later}, NOW + 301 * DAY),
        ],
        "an expired license is replaced without force": [
            ("activate", a, NOW),
            (
                "activate",
                {
                    **a,
                    "blob": sign(issued_at=iso(NOW + 400 * DAY), expires_at=iso(NOW + 800 * DAY)),
                },
                NOW + 400 * DAY,
            ),
        ],
        "deactivate": [
            ("deactivate", {}, NOW),
            ("activate", a, NOW),
            ("deactivate", {}, NOW + DAY),
            ("status", {}, NOW + DAY),
            ("renew", {"blob": later}, NOW + DAY),
        ],
    }


SEQUENCES = sequences()


def tamper(path: str, field: str, value: Any) -> None:
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    record[field] = value
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f)


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_each_sequence_of_changes_gives_what_the_typescript_client_gives(
    ts: TypeScript, tmp_path: Path, name: str
) -> None:
    homes = {"python": tmp_path / "python", "typescript": tmp_path / "typescript"}
    paths = {k: os.path.join(h, ".datatools", "license.json") for k, h in homes.items()}
    for n, (op, args, now) in enumerate(SEQUENCES[name]):
        mine = same_home(python_step(paths["python"], op, args, now), homes["python"])
        theirs = ts.oracle(op, home=str(homes["typescript"]), keys=[DEV_PUB], now=iso(now), **args)
        assert mine == same_home(theirs, homes["typescript"]), f"step {n}: {op}"
        assert read_bytes(paths["python"]) == read_bytes(paths["typescript"]), f"step {n}: {op}"


@pytest.mark.parametrize(
    "field, value",
    [
        ("blob", "DTLIC2:e30.AA"),
        ("version", 7),
        ("last_seen_at", "now"),
        ("blob", sign(OTHER_SEED_HEX)),
    ],
)
def test_changes_over_a_damaged_file_give_what_the_typescript_client_gives(
    ts: TypeScript, tmp_path: Path, field: str, value: Any
) -> None:
    later = sign(expires_at=iso(NOW + 730 * DAY), license_key="DT1-CORE-00000000-00000002")
    homes = {"python": tmp_path / "python", "typescript": tmp_path / "typescript"}
    paths = {k: os.path.join(h, ".datatools", "license.json") for k, h in homes.items()}
    for path in paths.values():
        client(path, Clock()).activate(sign(), **ADA)
        tamper(path, field, value)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("renew", {"blob": later}),
        ("activate", {"blob": later, **ADA}),
        ("deactivate", {}),
    ]
    for op, args in steps:
        mine = same_home(python_step(paths["python"], op, args, NOW + DAY), homes["python"])
        theirs = ts.oracle(
            op, home=str(homes["typescript"]), keys=[DEV_PUB], now=iso(NOW + DAY), **args
        )
        assert mine == same_home(theirs, homes["typescript"]), op
        assert read_bytes(paths["python"]) == read_bytes(paths["typescript"]), op
