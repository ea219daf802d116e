"""The production-safety check: a shipped build must never trust the public development key,
since anyone can sign licenses with it (src/client/production.ts).

The TypeScript rule reads ``NODE_ENV``; a Python app has no such convention, so here a build
is production when it is frozen (PyInstaller, cx_Freeze, py2exe and the like set
``sys.frozen``), or when the app says so with ``production=True``. The environment is not
read: a variable the user sets must not decide what the app trusts."""

from __future__ import annotations

import sys

from .errors import LicenseError
from .keys import DEV_KID, PublicKeys, to_key_ring


def is_frozen_build() -> bool:
    """True when this process is a frozen build: ``sys.frozen`` is set and true."""
    return bool(getattr(sys, "frozen", False))


def assert_production_safe(public_keys: PublicKeys, *, production: bool = False) -> None:
    """Refuses keys no shipped build may trust. Call it at start-up, before the first check.

    - Always: ``KEY_MISSING`` for no key, ``KEY_INVALID`` for one that is not 64 hex
      characters, ``KEY_WEAK`` for a small-order or non-canonical one (a placeholder such as 64
      zeros), with which anyone could sign a license.
    - In a frozen build, or with ``production=True``: ``DEV_KEY_IN_PRODUCTION`` when the keys
      include the public development key (kid ``59af6f1f1d004b94``). ``production=False`` does
      not make a frozen build development.

    Example::

        VENDOR_KEYS = ["<your 64-hex public key>"]
        assert_production_safe(VENDOR_KEYS)  # raises in a frozen build that trusts the dev key
    """
    ring = to_key_ring(public_keys)
    frozen = is_frozen_build()
    if not (frozen or production) or not ring.has(DEV_KID):
        return
    where = "this frozen build" if frozen else "this production build"
    raise LicenseError(
        "DEV_KEY_IN_PRODUCTION",
        f"{where} trusts the public development key (kid {DEV_KID}), with which anyone can sign "
        "a license; build it with the vendor's public key(s) in place of the development key "
        '(docs/BUILD.md, "The check in a Python app")',
    )
