"""The license file's lock, ``license.json.lock``, shared with the TypeScript client: a live
holder on either side makes the other wait and then refuse, naming it; a dead one is taken
over at once by either; and changes from both languages at once never interleave."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import ADA, CLI, DEV_PUB, ORACLE, Clock, TypeScript, read_bytes, sign

from datatools_license import LicenseClient, LicenseError, load_license
from datatools_license.lock import acquire_lock

HOLD_IN_PYTHON = """
import sys, time
from datatools_license.lock import acquire_lock
attempt = acquire_lock(sys.argv[1], 0)
print("held" if attempt.lock else "busy", flush=True)
time.sleep(3600)
"""


def start_holder(argv: list[str]) -> subprocess.Popen[str]:
    holder = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def stop(holder: subprocess.Popen[str], reap: bool = True) -> None:
    holder.kill()
    if reap:
        holder.wait()


def lock_owner(lic_path: str) -> dict[str, Any]:
    with open(lic_path + ".lock", encoding="utf-8") as f:
        owner: dict[str, Any] = json.loads(f.read())
    return owner


def test_python_waits_for_a_live_typescript_holder_then_refuses_naming_it(
    ts: TypeScript, lic_path: str
) -> None:
    os.makedirs(os.path.dirname(lic_path))
    holder = start_holder([ts.node, str(ORACLE), "hold", lic_path + ".lock"])
    try:
        client = LicenseClient([DEV_PUB], lic_path, now=Clock())
        started = time.monotonic()
        with pytest.raises(LicenseError) as caught:
            client.activate(sign(), **ADA)
        waited = time.monotonic() - started
        assert caught.value.code == "FILE_UNWRITABLE"
        assert f"process {holder.pid} (since " in caught.value.message
        assert 2.9 < waited < 10 and read_bytes(lic_path) is None
        # A check that refreshes does not wait, and does not fail.
        assert load_license([DEV_PUB], lic_path, refresh=True).state == "none"
    finally:
        stop(holder)
    assert client.activate(sign(), **ADA).changed


def test_python_takes_over_at_once_from_a_killed_typescript_holder(
    ts: TypeScript, lic_path: str
) -> None:
    os.makedirs(os.path.dirname(lic_path))
    for reap in (True, False):  # an exited process, and a zombie its parent has not collected
        holder = start_holder([ts.node, str(ORACLE), "hold", lic_path + ".lock"])
        stop(holder, reap=reap)
        if not reap:
            deadline = time.monotonic() + 10
            while not _is_zombie(holder.pid) and time.monotonic() < deadline:
                time.sleep(0.01)
        started = time.monotonic()
        LicenseClient([DEV_PUB], lic_path, now=Clock()).deactivate()
        assert time.monotonic() - started < 1
        holder.wait()
    assert not os.path.exists(lic_path + ".lock")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_dtlicense_waits_for_a_live_python_holder_then_refuses_naming_it(
    ts: TypeScript, home: Path, lic_path: str
) -> None:
    os.makedirs(os.path.dirname(lic_path))
    holder = start_holder([sys.executable, "-c", HOLD_IN_PYTHON, lic_path + ".lock"])
    try:
        owner = lock_owner(lic_path)
        assert owner["pid"] == holder.pid and len(owner["token"]) == 32
        r = ts.cli(["activate", sign(), "--name", ADA["name"], "--email", ADA["email"]], home)
        assert r.returncode == 1 and "[FILE_UNWRITABLE]" in r.stderr
        assert f"process {holder.pid} (since {owner['started']})" in r.stderr
        assert read_bytes(lic_path) is None
    finally:
        stop(holder)
    r = ts.cli(["activate", sign(), "--name", ADA["name"], "--email", ADA["email"]], home)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(lic_path + ".lock")


def test_the_lock_file_python_writes_is_the_one_typescript_writes(
    ts: TypeScript, lic_path: str
) -> None:
    os.makedirs(os.path.dirname(lic_path))
    attempt = acquire_lock(lic_path + ".lock", 0)
    assert attempt.lock is not None
    try:
        mine = lock_owner(lic_path)
    finally:
        attempt.lock.release()
    holder = start_holder([ts.node, str(ORACLE), "hold", lic_path + ".lock"])
    try:
        theirs = lock_owner(lic_path)
    finally:
        stop(holder)
    assert list(mine) == list(theirs)  # the same fields in the same order
    assert mine["host"] == theirs["host"] and mine.get("boot_id") == theirs.get("boot_id")
    assert (
        read_bytes(lic_path + ".lock") is not None
    )  # the killed holder's, until someone takes it over


@pytest.mark.parametrize("side", ["python", "typescript"])
def test_a_lock_of_another_host_is_never_taken_over(
    ts: TypeScript, home: Path, lic_path: str, side: str
) -> None:
    os.makedirs(os.path.dirname(lic_path))
    owner = {"pid": 1, "host": "elsewhere.example", "token": "t", "started": "2026-05-13T22:10:27Z"}
    Path(lic_path + ".lock").write_text(json.dumps(owner) + "\n")
    if side == "python":
        with pytest.raises(LicenseError) as caught:
            LicenseClient([DEV_PUB], lic_path, now=Clock()).activate(sign(), **ADA)
        message = caught.value.message
    else:
        message = ts.cli(
            ["activate", sign(), "--name", ADA["name"], "--email", ADA["email"]], home
        ).stderr
    assert "process 1 on host elsewhere.example (since 2026-05-13T22:10:27Z)" in message
    assert read_bytes(lic_path) is None


@pytest.mark.parametrize("side", ["python", "typescript"])
def test_a_torn_lock_file_blocks_while_fresh_and_is_taken_over_once_old(
    ts: TypeScript, home: Path, lic_path: str, side: str
) -> None:
    os.makedirs(os.path.dirname(lic_path))
    lock = Path(lic_path + ".lock")
    lock.write_text('{"pid": 12')

    def activate() -> str:
        if side == "python":
            try:
                LicenseClient([DEV_PUB], lic_path, now=Clock()).activate(sign(), **ADA)
                return ""
            except LicenseError as err:
                return err.message
        r = ts.cli(["activate", sign(), "--name", ADA["name"], "--email", ADA["email"]], home)
        return r.stderr

    assert "a process that left a lock file that cannot be read" in activate()
    assert read_bytes(lic_path) is None
    old = time.time() - 60
    os.utime(lock, (old, old))
    activate()
    assert read_bytes(lic_path) is not None and not lock.exists()


def test_a_dead_python_holders_lock_is_taken_over_by_dtlicense_at_once(
    ts: TypeScript, home: Path, lic_path: str
) -> None:
    os.makedirs(os.path.dirname(lic_path))
    holder = start_holder([sys.executable, "-c", HOLD_IN_PYTHON, lic_path + ".lock"])
    stop(holder)
    assert os.path.exists(lic_path + ".lock")
    r = ts.cli(["activate", sign(), "--name", ADA["name"], "--email", ADA["email"]], home)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(lic_path + ".lock")


def test_threads_of_one_process_take_turns(lic_path: str) -> None:
    blobs = [sign(license_key=f"DT1-CORE-00000000-0000000{i}") for i in range(8)]
    errors: list[BaseException] = []

    def work(blob: str) -> None:
        try:
            for _ in range(5):
                LicenseClient([DEV_PUB], lic_path, now=Clock()).activate(blob, **ADA, force=True)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(b,)) for b in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    status = load_license([DEV_PUB], lic_path, now=Clock())
    assert status.state == "active" and status.license and status.license.blob in blobs
    assert os.listdir(os.path.dirname(lic_path)) == ["license.json"]


def test_changes_from_both_languages_at_once_never_interleave(
    ts: TypeScript, home: Path, lic_path: str
) -> None:
    blobs = [sign(license_key=f"DT1-CORE-00000000-000000{i:02d}") for i in range(8)]
    script = (
        "import sys\n"
        "from datatools_license import LicenseClient\n"
        "c = LicenseClient([sys.argv[1]], sys.argv[2])\n"
        "for _ in range(10):\n"
        "    c.activate(sys.argv[3], 'Ada Lovelace', 'ada@example.com', force=True)\n"
        "    c.status(refresh=True)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    procs = []
    for i, blob in enumerate(blobs):
        if i % 2:
            argv = [
                ts.node,
                str(CLI),
                "activate",
                blob,
                "--name",
                ADA["name"],
                "--email",
                ADA["email"],
                "--force",
            ]
        else:
            argv = [sys.executable, "-c", script, DEV_PUB, lic_path, blob]
        procs.append(
            subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    status = load_license([DEV_PUB], lic_path)
    assert status.state == "active" and status.license and status.license.blob in blobs
    assert os.listdir(os.path.dirname(lic_path)) == ["license.json"]
    code, theirs = ts.status_json(home)
    assert (code, theirs) == (0, status.to_json())
