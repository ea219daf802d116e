"""A verified license's signed fields, and how names and e-mails are compared
(src/core/license.ts)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Optional

from . import _js
from .catalogue import Catalogue, Feature, features_for_tier

#: The payload's fields after ``v``, in the order a blob writes them.
PAYLOAD_FIELDS = ("kid", "license_key", "name", "email", "tier", "issued_at", "expires_at")


@dataclass(frozen=True)
class License:
    """A DTLIC2 license whose signature verified: the blob (whitespace removed) and the eight
    signed fields. Times are RFC 3339 UTC strings, such as ``2027-05-13T22:10:27Z``.

    :meth:`has_feature` answers from the signed tier alone; what an app may enable *now*
    (not expired, clock not set back) is :meth:`LicenseStatus.has_feature` of
    :func:`load_license`.
    """

    blob: str
    kid: str
    license_key: str
    name: str
    email: str
    tier: str
    issued_at: str
    expires_at: str
    v: int = 2

    def payload(self) -> dict[str, Any]:
        """The signed payload's eight fields, ``v`` first, as the TypeScript reader returns it."""
        return {"v": self.v, **{f: getattr(self, f) for f in PAYLOAD_FIELDS}}

    def features(self, catalogue: Optional[Catalogue] = None) -> list[Feature]:
        """The features the license's tier unlocks."""
        return features_for_tier(self.tier, catalogue)

    def has_feature(self, feature_id: str, catalogue: Optional[Catalogue] = None) -> bool:
        """True when the license's tier unlocks ``feature_id`` (expiry is not looked at)."""
        return any(f.id == feature_id for f in self.features(catalogue))


def normalize_identity(value: str) -> str:
    """The form in which names and e-mails are compared: NFC, trimmed, inner whitespace
    collapsed, case-folded by upper- then lower-casing (so ``Straße`` equals ``STRASSE``),
    exactly as ``normalizeIdentity`` does it."""
    text = unicodedata.normalize("NFC", value)
    text = _js.WHITESPACE.sub(" ", _js.trim(text))
    return unicodedata.normalize("NFC", text.upper().lower())


def same_identity(a: str, b: str) -> bool:
    """True when two names or two e-mails are the same after :func:`normalize_identity`."""
    return normalize_identity(a) == normalize_identity(b)


def days_left(expires_ms: int, now_ms: int) -> int:
    """Whole days from ``now_ms`` until ``expires_ms``, rounded down; negative once expired."""
    return (expires_ms - now_ms) // _js.DAY_MS
