"""The owner-checked lock file of the TypeScript package (src/config/lock.ts), the same file and
the same rules, so that the ``dtlicense`` commands and a Python app never change the license
file at the same time. A lock file is created exclusively and names its owner as one line of
JSON: ``{"pid", "host", "token", "started", "boot_id"?, "pid_start"?}``. Another process takes
it over only when the owner is provably gone (same host, and the pid no longer runs, is a
zombie, started at another time or belongs to another boot), so a paused holder keeps it and a
killed one loses it at once. Removing an abandoned lock happens under a second lock,
``<path>.takeover``, so two waiters cannot remove each other's fresh locks."""

from __future__ import annotations

import os
import random
import re
import secrets
import shutil
import socket
import stat
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import _js
from .errors import LicenseError, errno_name

#: A lock file that cannot be read (a crash between creating and writing it) is abandoned once
#: it is this old, in milliseconds.
UNREADABLE_LOCK_STALE_MS = 5_000
_ASIDE_STALE_MS = 60_000
_ASIDE = re.compile(r"(\.takeover)?\.[0-9a-f]{16}\.stale")
_MAX_SAFE_INTEGER = 2**53 - 1

# The tokens of the locks this process holds: a lock file naming this process with a token not
# here was leaked (its holder is gone), one with a token here belongs to another thread.
_held_tokens: set[str] = set()
_held_guard = threading.Lock()


@dataclass(frozen=True)
class LockOwner:
    """What a lock file holds."""

    pid: int
    host: str
    token: str
    started: str
    boot_id: Optional[str] = None
    pid_start: Optional[str] = None
    thread: Optional[int] = None

    def to_json(self) -> str:
        fields: dict[str, Any] = {
            "pid": self.pid,
            "host": self.host,
            "token": self.token,
            "started": self.started,
        }
        if self.boot_id is not None:
            fields["boot_id"] = self.boot_id
        if self.pid_start is not None:
            fields["pid_start"] = self.pid_start
        if self.thread is not None:
            fields["thread"] = self.thread
        return _js.stringify(fields)


class FileLock:
    """A held lock."""

    def __init__(self, path: str, owner: LockOwner) -> None:
        self.path = path
        self.owner = owner
        self._released = False

    def held(self) -> bool:
        """True when the lock file still names this holder. Check it immediately before a write
        the lock guards, and write nothing when it is false."""
        if self._released:
            return False
        seen = _look(self.path)
        return seen.owner is not None and seen.owner.token == self.owner.token

    def release(self) -> None:
        """Removes the lock file if it is still this holder's; never removes another's."""
        if self._released:
            return
        if self.held():
            _remove(self.path)
        self._released = True
        with _held_guard:
            _held_tokens.discard(self.owner.token)


@dataclass(frozen=True)
class LockAttempt:
    """The lock, or who holds it (``holder`` ``None``: a lock file that cannot be read)."""

    lock: Optional[FileLock]
    holder: Optional[LockOwner] = None


def acquire_lock(path: str, wait_ms: int) -> LockAttempt:
    """Takes the lock at ``path``, waiting up to ``wait_ms`` for a live holder by polling
    (``0`` tries once)."""
    deadline = time.monotonic() + wait_ms / 1000
    n = 0
    while True:
        attempt = _try_lock(path, _remove_under_guard)
        if attempt.lock is not None or time.monotonic() >= deadline:
            return attempt
        time.sleep(_poll_delay(n) / 1000)
        n += 1


def describe_holder(holder: Optional[LockOwner]) -> str:
    """Who holds a lock, for a message: ``process 4242 (since 2026-05-13T22:10:27Z)``, with
    `` on host H`` when it is another machine's."""
    if holder is None:
        return "a process that left a lock file that cannot be read"
    where = "" if holder.host == _host_name() else f" on host {holder.host}"
    return f"process {holder.pid}{where} (since {holder.started})"


def _poll_delay(n: int) -> float:
    """5, 8, 11, 17 … up to 50 ms, with jitter so that waiters do not poll in step."""
    base = min(50.0, 5 * 1.5**n)
    return max(1.0, round(base * (0.5 + random.random())))


@dataclass(frozen=True)
class _Seen:
    missing: bool = False
    owner: Optional[LockOwner] = None
    old: bool = False
    fingerprint: str = ""


def _try_lock(path: str, remove_abandoned: Callable[[str, str], None]) -> LockAttempt:
    """One attempt: create the lock, or find a live holder, or remove an abandoned lock with
    ``remove_abandoned`` and try again."""
    for _ in range(16):  # a bound keeps a pathological file system from spinning here
        lock = _create(path)
        if lock is not None:
            _sweep_aside(path)
            return LockAttempt(lock)
        seen = _look(path)
        if seen.missing:
            continue
        if seen.owner is not None and not _owner_gone(seen.owner):
            return LockAttempt(None, seen.owner)
        if seen.owner is None and not seen.old:
            return LockAttempt(None, None)
        remove_abandoned(path, seen.fingerprint)
    return LockAttempt(None, _look(path).owner)


def _cannot(what: str, path: str, err: OSError) -> LicenseError:
    return LicenseError(
        "FILE_UNWRITABLE", f"cannot {what} the lock file {path} ({errno_name(err)})"
    )


def _create(path: str) -> Optional[FileLock]:
    owner = _new_owner()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return None
    except OSError as err:
        raise _cannot("create", path, err) from err
    with _held_guard:
        _held_tokens.add(owner.token)
    try:
        data = (owner.to_json() + "\n").encode("utf-8")
        while data:
            data = data[os.write(fd, data) :]
    except OSError as err:
        with _held_guard:
            _held_tokens.discard(owner.token)
        os.close(fd)
        _remove(path)
        raise _cannot("write", path, err) from err
    os.close(fd)
    return FileLock(path, owner)


def _look(path: str) -> _Seen:
    st: Optional[os.stat_result] = None
    text = ""
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return _Seen(missing=True)
    except OSError:
        pass  # unreadable (another user's file, say): judged by its age like a torn one
    fingerprint = f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}:{text}" if st else text
    owner = _parse_owner(text)
    if owner is not None:
        return _Seen(owner=owner, fingerprint=fingerprint)
    old = st is not None and time.time() * 1000 - st.st_mtime * 1000 > UNREADABLE_LOCK_STALE_MS
    return _Seen(old=old, fingerprint=fingerprint)


def _safe_integer(value: Any) -> bool:
    return _js.is_number(value) and float(value).is_integer() and abs(value) <= _MAX_SAFE_INTEGER


def _parse_owner(text: str) -> Optional[LockOwner]:
    """The owner a lock file names, by the TypeScript reader's rule (``parseOwner``)."""
    try:
        v = _js.parse_json(text)
    except ValueError:
        return None
    if not isinstance(v, dict):
        return None
    ok = (
        _safe_integer(v.get("pid"))
        and v["pid"] > 0
        and isinstance(v.get("host"), str)
        and isinstance(v.get("token"), str)
        and v["token"] != ""
        and isinstance(v.get("started"), str)
        and ("boot_id" not in v or isinstance(v["boot_id"], str))
        and ("pid_start" not in v or isinstance(v["pid_start"], str))
        and ("thread" not in v or _safe_integer(v["thread"]))
    )
    if not ok:
        return None
    return LockOwner(
        pid=int(v["pid"]),
        host=v["host"],
        token=v["token"],
        started=v["started"],
        boot_id=v.get("boot_id"),
        pid_start=v.get("pid_start"),
        thread=int(v["thread"]) if "thread" in v else None,
    )


def _owner_gone(owner: LockOwner) -> bool:
    """True only when the owner certainly no longer runs. Another host's owner cannot be
    checked from here, and a stopped process is alive."""
    if owner.host != _host_name():
        return False
    boot = _boot_id()
    if owner.boot_id is not None and boot is not None and owner.boot_id != boot:
        return True
    if owner.pid == os.getpid():
        mine = _own_start()
        if owner.pid_start is not None and mine is not None and owner.pid_start != mine:
            return True
        with _held_guard:
            return owner.token not in _held_tokens
    alive = _pid_alive(owner.pid)
    if alive is False:
        return True
    if alive is None:
        return False
    proc = _proc_stat(owner.pid)
    if proc is None:
        return False
    state, start = proc
    if state == "Z":  # exited; only waits for its parent to collect its status
        return True
    return owner.pid_start is not None and start != owner.pid_start


def _pid_alive(pid: int) -> Optional[bool]:
    """True when a process with this pid runs, False when none does, None when unknown."""
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    except OSError:
        return None
    return True


if sys.platform == "win32":

    def _windows_pid_alive(pid: int) -> Optional[bool]:
        # os.kill(pid, 0) would end the process on Windows; ask the kernel instead.
        import ctypes
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.OpenProcess.restype = wintypes.HANDLE
        kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
        process_query_limited_information = 0x1000
        handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
        if not handle:
            error = ctypes.get_last_error()
            if error == 87:  # ERROR_INVALID_PARAMETER: no process has this id
                return False
            return True if error == 5 else None  # ERROR_ACCESS_DENIED: it runs, as another user
        try:
            code = wintypes.DWORD()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return None
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)


def _remove_under_guard(path: str, fingerprint: str) -> None:
    """Removes a lock judged abandoned, under ``<path>.takeover``, after checking again that it
    is the file judged: another waiter may have removed it and taken the lock anew meanwhile."""
    guard = _try_lock(f"{path}.takeover", _move_aside)
    if guard.lock is None:
        return
    try:
        seen = _look(path)
        if not seen.missing and seen.fingerprint == fingerprint:
            _remove(path)
    finally:
        guard.lock.release()


def _move_aside(path: str, fingerprint: str) -> None:
    """Removes an abandoned takeover lock without a lock of its own: move it to a name of ours
    (only one waiter's rename succeeds), check it is the file judged, and put it back if another
    waiter replaced it meanwhile."""
    aside = os.path.join(
        os.path.dirname(path), f"{os.path.basename(path)}.{secrets.token_hex(8)}.stale"
    )
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    except OSError as err:
        raise _cannot("remove the abandoned", path, err) from err
    moved = _look(aside)
    if not moved.missing and moved.fingerprint != fingerprint:
        try:
            if os.path.isdir(aside) and not os.path.islink(aside):
                os.rename(aside, path)
            else:
                os.link(aside, path)
        except OSError:
            pass  # nothing to restore, or a newer one is in place
    _remove(aside)


def _sweep_aside(path: str) -> None:
    """Removes what a takeover killed between its two steps left behind (never a fresh one)."""
    folder = os.path.dirname(path) or "."
    prefix = os.path.basename(path)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix) or not _ASIDE.fullmatch(name[len(prefix) :]):
            continue
        file = os.path.join(folder, name)
        try:
            if time.time() * 1000 - os.lstat(file).st_ctime * 1000 > _ASIDE_STALE_MS:
                _remove(file)
        except OSError:
            pass  # gone already


def _remove(path: str) -> None:
    """``rm -rf``: a lock may be a folder (an older version's), or gone already."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _new_owner() -> LockOwner:
    return LockOwner(
        pid=os.getpid(),
        host=_host_name(),
        token=secrets.token_hex(16),
        started=_js.format_time(int(time.time() * 1000)),
        boot_id=_boot_id(),
        pid_start=_own_start(),
    )


_host: Optional[str] = None
_start: Optional[tuple[int, Optional[str]]] = (
    None  # (pid, start): a forked child is another process
)
_boot: Optional[tuple[Optional[str]]] = None


def _host_name() -> str:
    global _host
    if _host is None:
        _host = socket.gethostname()
    return _host


def _own_start() -> Optional[str]:
    global _start
    pid = os.getpid()
    if _start is None or _start[0] != pid:
        proc = _proc_stat(pid)
        _start = (pid, proc[1] if proc else None)
    return _start[1]


def _boot_id() -> Optional[str]:
    """Linux's boot id; None elsewhere."""
    global _boot
    if _boot is None:
        try:
            with open("/proc/sys/kernel/random/boot_id", encoding="utf-8") as f:
                _boot = (f.read().strip() or None,)
        except OSError:
            _boot = (None,)
    return _boot[0]


def _proc_stat(pid: int) -> Optional[tuple[str, str]]:
    """State and start time of a process from Linux's /proc; None elsewhere or when gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = text[text.rfind(")") + 2 :].split(" ")
    if len(fields) < 20 or not fields[0] or not fields[19]:
        return None
    return fields[0], fields[19]
