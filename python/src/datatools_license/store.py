"""The license file, ``~/.datatools/license.json``, exactly as ``dtlicense activate`` writes it
(src/client/store.ts): where it lives, its shape, and the locked, atomic ways to change it.
Nothing here decides whether a license is good; that is :mod:`.check`, which trusts only the
blob."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, TypeVar, Union

from . import _js
from .errors import LicenseError, errno_name
from .lock import FileLock, acquire_lock, describe_holder

#: The folder under the home folder that holds the license.
LICENSE_DIR = ".datatools"
#: The license file's name inside :data:`LICENSE_DIR`.
LICENSE_FILE = "license.json"
#: The version of the license file's layout (not of the blob inside it).
LICENSE_FILE_VERSION = 1

#: A license file is a few hundred bytes; anything far larger is not one.
_MAX_FILE_BYTES = 65_536
#: How long a change waits for another process's change to finish, in milliseconds.
_LOCK_WAIT_MS = 3_000

T = TypeVar("T")
PathLike = Union[str, os.PathLike[str]]


@dataclass(frozen=True)
class LicenseFileRecord:
    """The stored record. Only ``blob`` is trusted, and only after it verifies; the times are
    bookkeeping (``last_seen_at`` feeds the clock-rollback check)."""

    blob: str
    activated_at: str
    last_seen_at: str
    renewed_at: Optional[str] = None
    version: int = LICENSE_FILE_VERSION


@dataclass(frozen=True)
class RawLicenseFile:
    """What was found at the license path, before any verification: ``kind`` is ``missing``,
    ``unreadable`` (with ``error``, an errno name) or ``text``."""

    kind: str
    text: str = ""
    error: str = ""


def license_path(home: Optional[PathLike] = None) -> str:
    """Where the license of a home folder is stored: ``<home>/.datatools/license.json``; the
    user's home folder by default (``$HOME``, or ``%USERPROFILE%`` on Windows)."""
    base = os.fspath(home) if home is not None else str(Path.home())
    return os.path.join(base, LICENSE_DIR, LICENSE_FILE)


def read_license_file(path: str) -> RawLicenseFile:
    """Reads the license file's text without interpreting it."""
    try:
        if os.stat(path).st_size > _MAX_FILE_BYTES:
            return RawLicenseFile("text", "")
        with open(path, "rb") as f:
            return RawLicenseFile("text", f.read().decode("utf-8", "replace"))
    except (FileNotFoundError, NotADirectoryError):
        return RawLicenseFile("missing")
    except OSError as err:
        return RawLicenseFile("unreadable", error=errno_name(err))


def serialize_record(record: LicenseFileRecord) -> str:
    """The file's text for a record: stable field order, two-space indent, final newline,
    byte for byte what the TypeScript client writes."""
    fields = [
        ("version", _js.stringify(record.version)),
        ("blob", _js.stringify(record.blob)),
        ("activated_at", _js.stringify(record.activated_at)),
    ]
    if record.renewed_at is not None:
        fields.append(("renewed_at", _js.stringify(record.renewed_at)))
    fields.append(("last_seen_at", _js.stringify(record.last_seen_at)))
    body = ",\n".join(f'  "{name}": {value}' for name, value in fields)
    return "{\n" + body + "\n}\n"


def _fsync_dir(folder: str) -> None:
    """fsyncs a folder so a rename in it survives a crash (not every system can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _ensure_private_dir(folder: str) -> None:
    os.makedirs(folder, mode=0o700, exist_ok=True)


def _write_atomic(path: str, text: str) -> None:
    """Temp file (mode 600), fsync, rename, fsync the folder: a reader sees the old file or the
    new one, never a part. The temp file's name is the TypeScript writer's pattern, so a killed
    write's leftover is removed by the next change from either side."""
    folder = os.path.dirname(path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd: Optional[int] = None
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o600)
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, path)
        _fsync_dir(folder)
    except OSError as err:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise LicenseError("FILE_UNWRITABLE", f"cannot write {path} ({errno_name(err)})") from err


def write_record(path: str, record: LicenseFileRecord, lock: FileLock) -> None:
    """Writes the record atomically with mode 600 in a folder of mode 700. Refuses, writing
    nothing, when ``lock`` (from :func:`with_lock`) is no longer held."""
    folder = os.path.dirname(path)
    _ensure_private_dir(folder)
    try:
        # The folder may predate us (made by the product with a looser mode); it holds the license.
        os.chmod(folder, 0o700)
    except OSError:
        pass  # not ours to change (another owner): the file itself is still written mode 600
    text = serialize_record(record)
    _assert_held(path, lock)
    _write_atomic(path, text)


def remove_record(path: str, lock: FileLock) -> bool:
    """Removes the license file; True when there was one. Refuses like :func:`write_record`."""
    _assert_held(path, lock)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as err:
        raise LicenseError(
            "FILE_UNWRITABLE", f"cannot remove {path}: {err.strerror or err}"
        ) from err
    _fsync_dir(os.path.dirname(path))
    return True


def with_lock(path: str, wait: bool, fn: Callable[[FileLock], T]) -> Optional[T]:
    """Runs ``fn`` while holding ``<path>.lock``, the lock the ``dtlicense`` commands take, so
    that an activation, a renewal, a removal and a refresh never interleave, from either
    language. A lock whose process is gone is taken over at once; a live one, even a stopped
    one, is waited for up to 3 s, then refused with ``FILE_UNWRITABLE`` naming it. With
    ``wait=False`` it returns None at once when another process holds the lock. Temporary files
    a killed write left next to the license are removed first."""
    lock_path = f"{path}.lock"
    _ensure_private_dir(os.path.dirname(path))
    attempt = acquire_lock(lock_path, _LOCK_WAIT_MS if wait else 0)
    if attempt.lock is None:
        if not wait:
            return None
        raise LicenseError(
            "FILE_UNWRITABLE",
            f"another process is changing {path}: {describe_holder(attempt.holder)} holds "
            f"{lock_path}; try again when it has finished "
            "(if it is stopped, resume it with fg or end it)",
        )
    try:
        _remove_stray_temps(path)
        return fn(attempt.lock)
    finally:
        attempt.lock.release()


def _assert_held(path: str, lock: FileLock) -> None:
    if not lock.held():
        raise LicenseError(
            "FILE_UNWRITABLE",
            f"the lock on {path} was taken over by another process during this change; "
            "nothing was written: try again",
        )


_STRAY = re.compile("[0-9a-f]+\\.tmp")


def _remove_stray_temps(path: str) -> None:
    """Removes ``.license.json.<hex>.tmp`` files, left by a write that was killed."""
    folder = os.path.dirname(path)
    prefix = f".{os.path.basename(path)}."
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and _STRAY.fullmatch(name[len(prefix) :]):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
