"""Reading a DTLIC2 blob: ``DTLIC2:`` + b64u(payload) + ``.`` + b64u(signature), the Ed25519
signature taken over the ASCII bytes before the dot. Every check of docs/FORMAT.md "Reading a
blob", in its order, with the codes and messages of the TypeScript reader (src/core/format.ts)."""

from __future__ import annotations

import base64
import re
from typing import Any, NoReturn

from . import _js
from .catalogue import is_tier
from .errors import LicenseError
from .keys import PublicKeys, to_key_ring
from .license import License

#: The prefix of every version-2 blob; it is part of the signed bytes.
BLOB_PREFIX = "DTLIC2:"
#: The prefix of the retired HMAC format.
V1_PREFIX = "DTLIC1:"
#: The longest blob accepted, in characters, after whitespace is removed.
MAX_BLOB_LENGTH = 4096
#: The longest text accepted before whitespace is removed (pasted e-mail text).
MAX_INPUT_LENGTH = 65_536

_B64U = re.compile("[A-Za-z0-9_-]*")
_KID = re.compile("[0-9a-f]{16}")


def normalize_blob_text(text: str) -> str:
    """Removes whitespace and line breaks (blobs are pasted from e-mail) and checks the size
    and the prefix; returns the compact blob text."""
    n = _js.length(text)
    if n > MAX_INPUT_LENGTH:
        raise LicenseError(
            "BLOB_TOO_LARGE",
            f"the text is {n} characters; a license blob is under {MAX_BLOB_LENGTH}",
        )
    blob = _js.WHITESPACE.sub("", text)
    if blob == "":
        raise LicenseError("BLOB_EMPTY", "no license blob was given")
    if not blob.startswith(BLOB_PREFIX):
        if blob.startswith(V1_PREFIX):
            raise LicenseError(
                "BLOB_V1_UNSUPPORTED",
                "this is a DTLIC1 license from the retired HMAC format; "
                "ask the vendor to re-issue it as DTLIC2",
            )
        raise LicenseError(
            "BLOB_PREFIX_UNKNOWN",
            "this is not a DataTools license: a license starts with DTLIC2:",
        )
    n = _js.length(blob)
    if n > MAX_BLOB_LENGTH:
        raise LicenseError(
            "BLOB_TOO_LARGE",
            f"the blob is {n} characters; a license blob is at most {MAX_BLOB_LENGTH}",
        )
    return blob


def _damaged(code: str, detail: str) -> LicenseError:
    """A refusal before the signature is checked: damage while copying cannot be told apart from
    a deliberate change yet, so the message says what a buyer can do about it."""
    return LicenseError(
        code,
        f"the license text is damaged or incomplete ({detail}); copy it again, whole, from the "
        "purchase e-mail: from DTLIC2: to the end",
    )


def _b64u_decode(text: str, what: str) -> bytes:
    """Strict base64url: the URL-safe alphabet only, no padding, the canonical encoding."""
    if not _B64U.fullmatch(text) or len(text) % 4 == 1:
        raise _damaged("BLOB_ENCODING", f"the {what} is not valid base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(data).decode("ascii").rstrip("=") != text:
        raise _damaged("BLOB_ENCODING", f"the {what} is not canonical base64url")
    return data


def verify_blob(blob: str, public_keys: PublicKeys) -> License:
    """Verifies a blob against the trusted keys and returns the license. Whitespace anywhere is
    ignored. Checks, in order: size and prefix, shape, base64url, JSON object, ``v``, ``kid``
    trusted, the Ed25519 signature, then every other field; the first that fails raises
    :class:`LicenseError` with the code the TypeScript reader gives for the same text
    (``BLOB_MALFORMED``, ``KEY_UNKNOWN``, ``SIGNATURE_INVALID``, …).

    Example::

        license = verify_blob(pasted_text, VENDOR_KEYS)
        print(license.tier, license.expires_at)
    """
    ring = to_key_ring(public_keys)
    compact = normalize_blob_text(blob)
    dot = compact.find(".")
    if dot < 0 or dot != compact.rfind("."):
        raise _damaged(
            "BLOB_MALFORMED", "it must have exactly one '.' between payload and signature"
        )
    signing_input = compact[:dot]
    payload_bytes = _b64u_decode(signing_input[len(BLOB_PREFIX) :], "payload")
    signature = _b64u_decode(compact[dot + 1 :], "signature")
    if len(signature) != 64:
        raise _damaged(
            "BLOB_MALFORMED",
            f"the signature is {len(signature)} bytes; Ed25519 signatures are 64",
        )
    try:
        parsed = _js.parse_json(payload_bytes.decode("utf-8"))
    except ValueError:  # not UTF-8 (UnicodeDecodeError is one), a BOM, not JSON, NaN
        raise _damaged("PAYLOAD_NOT_JSON", "the payload is not valid UTF-8 JSON") from None
    if not isinstance(parsed, dict):
        raise _damaged("PAYLOAD_NOT_OBJECT", "the payload is JSON but not an object")
    p: dict[str, Any] = parsed
    v = p.get("v")
    if not (_js.is_number(v) and v == 2):
        # A later format, or a damaged "v": the buyer cannot tell, so the message gives both.
        shown = _js.stringify(v) if "v" in p else "(missing)"
        raise LicenseError(
            "PAYLOAD_VERSION",
            f"payload version {shown} is not supported (this reader handles v 2); "
            "copy it again, whole, from the purchase e-mail (from DTLIC2: to the end), and if it "
            "still fails, the license needs a newer DataTools",
        )
    kid = p.get("kid")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise _damaged("PAYLOAD_FIELD", "kid must be 16 lower-case hex characters")
    key = ring.get(kid)
    if key is None:
        raise LicenseError(
            "KEY_UNKNOWN",
            f"the license was signed by key {kid}, which this build does not trust",
        )
    if not key.verify(signature, signing_input.encode("ascii")):
        raise LicenseError(
            "SIGNATURE_INVALID",
            "the signature does not match: the license was altered or not issued by the vendor",
        )
    return _checked_fields(compact, p)


def _checked_fields(blob: str, p: dict[str, Any]) -> License:
    # After the signature: a genuine license the vendor's writer got wrong, not a damaged copy.
    def field(name: str, why: str) -> NoReturn:
        raise LicenseError(
            "PAYLOAD_FIELD",
            f"payload field {name} {why}; the license is signed but malformed: "
            "ask the vendor to issue it again",
        )

    for name in ("license_key", "name", "email"):
        value = p.get(name)
        if not isinstance(value, str) or value == "":
            field(name, "must be non-empty text")
    if not is_tier(p.get("tier")):
        field("tier", "must be lite, core or pro")
    for name in ("issued_at", "expires_at"):
        if _js.parse_time(p.get(name)) is None:
            field(name, "must be an RFC 3339 UTC time to the second, like 2026-05-13T22:10:27Z")
    return License(
        blob=blob,
        kid=p["kid"],
        license_key=p["license_key"],
        name=p["name"],
        email=p["email"],
        tier=p["tier"],
        issued_at=p["issued_at"],
        expires_at=p["expires_at"],
    )
