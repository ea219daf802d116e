"""Helpers the tests share: the vector file, signers, minting at a chosen time, and the
TypeScript side (the built ``dtlicense`` command line and ``ts_oracle.mjs``)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Optional, TypedDict

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from datatools_license import DEV_PUBLIC_KEY_HEX, LicenseError, LicenseStatus, verify_blob
from datatools_license.store import LicenseFileRecord, serialize_record

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
VECTORS_PATH = REPO / "test" / "vectors" / "dtlic2-vectors.json"
CLI = REPO / "dist" / "cli" / "dtlicense.cjs"
ORACLE = Path(__file__).resolve().parent / "ts_oracle.mjs"

NOW = dt.datetime(2026, 5, 13, 22, 10, 27, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


class Identity(TypedDict):
    name: str
    email: str


ADA: Identity = {"name": "Ada Lovelace", "email": "ada@example.com"}

DEV_SEED_HEX = hashlib.sha256(
    b"datatools-license development keypair v1 (public; never for production)"
).hexdigest()
# A production-like vendor key that is not the development key (fixed, so runs repeat).
VENDOR_SEED_HEX = hashlib.sha256(b"datatools-license python tests: vendor key").hexdigest()
OTHER_SEED_HEX = hashlib.sha256(b"datatools-license python tests: another key").hexdigest()


def public_hex(seed_hex: str) -> str:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def kid_of(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_hex(seed_hex))).hexdigest()[:16]


DEV_PUB = DEV_PUBLIC_KEY_HEX
VENDOR_PUB = public_hex(VENDOR_SEED_HEX)
OTHER_PUB = public_hex(OTHER_SEED_HEX)


def load_vectors() -> dict[str, Any]:
    with open(VECTORS_PATH, encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def sign_bytes(payload: bytes, seed_hex: str = DEV_SEED_HEX) -> str:
    """A blob over exactly these payload bytes (docs/FORMAT.md's construction, written out)."""
    signing_input = "DTLIC2:" + b64u(payload)
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return signing_input + "." + b64u(key.sign(signing_input.encode("ascii")))


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(seed_hex: str = DEV_SEED_HEX, **fields: Any) -> str:
    """A blob for Ada, issued at NOW for a year, with ``fields`` replaced; compact JSON in the
    reference writer's field order, as the TypeScript writer emits it."""
    payload: dict[str, Any] = {
        "v": 2,
        "kid": kid_of(seed_hex),
        "license_key": "DT1-CORE-00000000-00000000",
        "name": ADA["name"],
        "email": ADA["email"],
        "tier": "core",
        "issued_at": iso(NOW),
        "expires_at": iso(NOW + 365 * DAY),
    }
    payload.update(fields)
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return sign_bytes(text.encode("utf-8"), seed_hex)


def record_text(
    blob: str,
    activated: dt.datetime = NOW,
    last_seen: dt.datetime = NOW,
    renewed: Optional[dt.datetime] = None,
) -> str:
    """A license file's text, as both clients write it."""
    return serialize_record(
        LicenseFileRecord(
            blob=blob,
            activated_at=iso(activated),
            last_seen_at=iso(last_seen),
            renewed_at=iso(renewed) if renewed else None,
        )
    )


def write_text(path: str, text: str) -> None:
    """Writes a license file by hand (its folder made as the clients make it)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def read_bytes(path: str) -> Optional[bytes]:
    """A file's bytes, or None when there is none."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def verify_answer(text: str, keys: list[str]) -> dict[str, Any]:
    """What verify_blob says, in the oracle's shape."""
    try:
        lic = verify_blob(text, keys)
    except LicenseError as err:
        return {"error": {"code": err.code, "message": err.message}}
    return {"ok": {"blob": lic.blob, "payload": lic.payload()}}


def status_answer(status: LicenseStatus) -> dict[str, Any]:
    """A status in the oracle's shape."""
    return {"json": status.to_json(), "usable": status.usable, "message": status.message}


class Clock:
    """A frozen clock a test can move."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


# ---------------------------------------------------------------------------------------------
# The TypeScript side


class TypeScript:
    """The built TypeScript package: ``dtlicense`` and the oracle, each as a child process."""

    def __init__(self, node: str) -> None:
        self.node = node

    def oracle(self, op: str, **request: Any) -> Any:
        r = subprocess.run(
            [self.node, str(ORACLE)],
            input=json.dumps({"op": op, **request}),
            check=False,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
        )
        assert r.returncode == 0 and r.stderr == "", r.stderr
        return json.loads(r.stdout)

    def cli(
        self,
        args: list[str],
        home: Path,
        env: Optional[dict[str, str]] = None,
        stdin: str = "",
    ) -> subprocess.CompletedProcess[str]:
        """``dtlicense ARGS`` as a buyer runs it, with only PATH, HOME and ``env`` set."""
        return subprocess.run(
            [self.node, str(CLI), *args],
            input=stdin,
            check=False,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(home), **(env or {})},
            timeout=120,
        )

    def status_json(self, home: Path, env: Optional[dict[str, str]] = None) -> Any:
        r = self.cli(["status", "--json"], home, env)
        assert r.stdout, r.stderr
        return r.returncode, json.loads(r.stdout)
