"""The one error class, with the stable codes of the TypeScript package (src/core/errors.ts)."""

from __future__ import annotations

import errno
from typing import Optional

#: Every code this package raises or reports, with the meaning the TypeScript package gives it.
#: A code is never renamed or reused for another meaning; tests check each against src/core/errors.ts.
ERROR_CODES: dict[str, str] = {
    # Reading a DTLIC2 blob
    "BLOB_EMPTY": "the blob is empty",
    "BLOB_TOO_LARGE": "the blob is larger than any genuine license",
    "BLOB_V1_UNSUPPORTED": "a DTLIC1 (HMAC) blob, which this version no longer accepts",
    "BLOB_PREFIX_UNKNOWN": "the text does not start with DTLIC2:",
    "BLOB_MALFORMED": "the blob is not of the form DTLIC2:<payload>.<signature>",
    "BLOB_ENCODING": "a part of the blob is not valid base64url",
    "PAYLOAD_NOT_JSON": "the payload is not valid UTF-8 JSON",
    "PAYLOAD_NOT_OBJECT": "the payload is JSON but not an object",
    "PAYLOAD_VERSION": "the payload's v is not 2",
    "PAYLOAD_FIELD": "a payload field is missing or has the wrong type or form",
    "KEY_UNKNOWN": "the blob names a signing key (kid) that is not trusted here",
    "SIGNATURE_INVALID": "the signature does not match the payload",
    # Keys
    "KEY_INVALID": "a key is not 64 hex characters",
    "KEY_WEAK": (
        "a public key is a small-order or non-canonical Ed25519 point, "
        "with which anyone could sign licenses"
    ),
    "KEY_MISSING": "a needed key is not configured",
    "DEV_KEY_IN_PRODUCTION": "the public development key is trusted by a production build",
    # Catalogue
    "CATALOGUE_INVALID": "the feature catalogue is not well formed",
    # Files
    "FILE_UNREADABLE": "a file could not be read",
    "FILE_UNWRITABLE": "a file could not be written",
    # Buyer side
    "LICENSE_NONE": "no license is activated on this machine",
    "LICENSE_EXPIRED": "the license has expired",
    "LICENSE_TAMPERED": "the stored license file was changed by hand or is corrupt",
    "LICENSE_CORRUPT": (
        "the stored license file is not a readable license file (damaged or truncated)"
    ),
    "LICENSE_EXISTS": (
        "another license is already active on this machine and --force was not given"
    ),
    "IDENTITY_MISMATCH": "the name or e-mail does not match the license",
    "RENEW_DIFFERENT_BUYER": "the new license is for a different buyer",
    "RENEW_EARLIER_EXPIRY": "the new license expires before the current one",
    "CLOCK_ROLLBACK": "the system clock is behind the last time the license was seen valid",
}


class LicenseError(Exception):
    """The one error of this package. ``code`` is stable (one of :data:`ERROR_CODES`);
    ``message`` is for people and says what was wrong and, where it can, what to do.

    Example::

        try:
            license = verify_blob(text, VENDOR_KEYS)
        except LicenseError as err:
            if err.code == "SIGNATURE_INVALID":
                ...  # refuse the license
    """

    code: str
    message: str

    def __init__(self, code: str, message: Optional[str] = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        text = message if message is not None else ERROR_CODES[code]
        super().__init__(text)
        self.code = code
        self.message = text

    def __repr__(self) -> str:
        return f"LicenseError({self.code!r}, {self.message!r})"


def errno_name(err: OSError) -> str:
    """The errno name of an OS error (``EACCES``), as Node's ``err.code`` gives it in the
    TypeScript client's messages, or the error's text when it has none."""
    return errno.errorcode.get(err.errno or 0, str(err))
