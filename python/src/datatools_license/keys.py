"""Public keys as the project writes them (64 hex characters each), key ids, the refusal of
weak keys, and key rings (src/core/keys.ts, src/client/keys.ts)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Optional, Union

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import _js
from .errors import LicenseError

#: The development key's seed text; the seed is SHA-256 of it. Public on purpose: anyone can
#: sign licenses this key verifies, which is why a production build must not trust it.
DEV_SEED_TEXT = "datatools-license development keypair v1 (public; never for production)"
#: The development public key (hex).
DEV_PUBLIC_KEY_HEX = "4b980efa55b60582cc545897b48a1f0574ecb9d754c55c17383ac1eab6ba232c"
#: The development key's kid.
DEV_KID = "59af6f1f1d004b94"

_HEX64 = re.compile("[0-9a-fA-F]{64}")

# The field prime 2^255 - 19: an encoded point's y (its low 255 bits, little-endian) is
# canonical only below it.
_FIELD_PRIME = 2**255 - 19

# The y coordinates, 32 little-endian bytes with the sign bit clear, of the eight points of
# small order: the identity, (0, -1), the two points of order 4 (y = 0) and the y values of the
# four points of order 8 (docs/FORMAT.md, "Weak public keys").
_SMALL_ORDER_Y = frozenset(
    bytes.fromhex(y)
    for y in (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    )
)


def parse_hex_key(value: str, label: str) -> bytes:
    """The 32 bytes of a key written as 64 hex characters (surrounding whitespace ignored).
    ``label`` names where the value came from, for the ``KEY_INVALID`` message, which never
    echoes the value."""
    text = _js.trim(value)
    if not _HEX64.fullmatch(text):
        n = _js.length(text)
        why = f"is {n} characters long" if n != 64 else "contains characters other than 0-9 and a-f"
        raise LicenseError(
            "KEY_INVALID", f"{label} {why}; it must be exactly 64 hex characters (32 bytes)"
        )
    return bytes.fromhex(text)


def key_id(raw_public_key: bytes) -> str:
    """The key id: lower-case hex of the first 8 bytes of SHA-256 of the raw 32-byte key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def weakness(raw: bytes) -> Optional[str]:
    """Why a 32-byte public key is unusable, or ``None`` when it is fine. OpenSSL (under both
    ``cryptography`` and ``node:crypto``) verifies against any encoding, and for a point of small
    order a signature R || S with R a small-order point and S = 0 verifies one message in eight:
    anyone could sign licenses for such a key. No private key has one."""
    y = raw[:31] + bytes([raw[31] & 0x7F])
    if int.from_bytes(y, "little") >= _FIELD_PRIME:
        return "is not a canonical Ed25519 public key (its y coordinate is 2^255-19 or more)"
    if y in _SMALL_ORDER_Y:
        return "is a point of small order (such as 64 zeros), not a real Ed25519 public key"
    return None


class PublicKey:
    """A trusted public key, ready to verify with."""

    __slots__ = ("_key", "hex", "kid", "raw")

    def __init__(self, raw: bytes, label: str = "the public key") -> None:
        if len(raw) != 32:
            raise LicenseError("KEY_INVALID", f"a public key must be 32 bytes, not {len(raw)}")
        why = weakness(raw)
        if why is not None:
            raise LicenseError(
                "KEY_WEAK",
                f"{label} {why}: anyone can sign a license that it verifies. "
                "Use the public key of a real keypair (dtlicense keypair makes one)",
            )
        self.raw = bytes(raw)
        self.hex = self.raw.hex()
        self.kid = key_id(self.raw)
        self._key = Ed25519PublicKey.from_public_bytes(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        from cryptography.exceptions import InvalidSignature

        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"PublicKey(kid={self.kid!r})"


class KeyRing:
    """The public keys a reader trusts, looked up by kid. A vendor that rotates its key ships
    old and new together, so licenses signed by either keep working.

    Example::

        ring = KeyRing.from_hex([NEW_KEY_HEX, OLD_KEY_HEX])
        ring.has("59af6f1f1d004b94")
    """

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        self._keys: dict[str, PublicKey] = {}
        for key in keys:
            self._keys[key.kid] = key

    @classmethod
    def from_hex(cls, public_keys: Sequence[str]) -> KeyRing:
        """A ring of 64-hex public keys: ``KEY_MISSING`` for none, ``KEY_INVALID`` for one
        that is not 64 hex characters, ``KEY_WEAK`` for a small-order or non-canonical one
        (such as 64 zeros). The message names the key's position, as ``public key 2``."""
        if isinstance(public_keys, (str, bytes)):
            raise TypeError("public_keys must be a list of 64-hex strings, not one string")
        if len(public_keys) == 0:
            raise LicenseError("KEY_MISSING", "no public key was given to verify licenses with")
        keys: list[PublicKey] = []
        for i, text in enumerate(public_keys):
            label = f"public key {i + 1}"
            if not isinstance(text, str):
                raise TypeError(f"{label} must be a str of 64 hex characters")
            keys.append(PublicKey(parse_hex_key(text, label), label))
        return cls(keys)

    def get(self, kid: str) -> Optional[PublicKey]:
        return self._keys.get(kid)

    def has(self, kid: str) -> bool:
        return kid in self._keys

    def keys(self) -> list[PublicKey]:
        """The trusted keys, in the order they were given."""
        return list(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(self.keys())


#: What every function that verifies takes: 64-hex public keys, or a ready ring.
PublicKeys = Union[Sequence[str], KeyRing]


def to_key_ring(public_keys: PublicKeys) -> KeyRing:
    """A :class:`KeyRing` from 64-hex public keys; a ring is returned as it is."""
    if isinstance(public_keys, KeyRing):
        return public_keys
    return KeyRing.from_hex(public_keys)


def parse_public_key_list(value: str, label: str) -> list[str]:
    """Checks a list of public keys separated by commas or whitespace, as
    ``DATATOOLS_LICENSE_PUBKEY`` holds them, and returns them lower-case. For a build script
    that bakes the keys into an app: it fails on ``KEY_INVALID`` or ``KEY_WEAK`` naming ``label``
    and the key's position, never echoing a value."""
    parts = [p for p in re.split(f"[{_js.WHITESPACE_CLASS},]+", value) if p != ""]
    if not parts:
        raise LicenseError("KEY_INVALID", f"{label} is set but empty")
    out: list[str] = []
    for i, text in enumerate(parts):
        where = f"{label} (key {i + 1})" if len(parts) > 1 else label
        out.append(PublicKey(parse_hex_key(text, where), where).hex)
    return out
