"""The DataTools license check for Python apps: reads exactly what the TypeScript client
(``datatools-license/client``) reads, refuses exactly what it refuses, with the same codes, and
shares its license file, ``~/.datatools/license.json``, and that file's lock with ``dtlicense``.

Example::

    from datatools_license import assert_production_safe, load_license

    VENDOR_KEYS = ["<the vendor's 64-hex public key>"]  # constants in code, never from a file
    assert_production_safe(VENDOR_KEYS)
    status = load_license(VENDOR_KEYS, refresh=True)
    if status.has_feature("deduplicator"):
        enable_deduplicator()
"""

from .catalogue import (
    DEFAULT_CATALOGUE,
    TIERS,
    Catalogue,
    Feature,
    features_for_tier,
    is_tier,
    load_catalogue_file,
    parse_catalogue,
)
from .check import (
    CLOCK_ROLLBACK_TOLERANCE_MS,
    EXPIRING_DAYS,
    INVALID_REASONS,
    LAST_SEEN_REFRESH_MS,
    STATES,
    STATUS_EXIT,
    LicenseStatus,
)
from .checkin import CheckIn
from .client import (
    ChangeResult,
    LicenseClient,
    RemoveResult,
    activate,
    deactivate,
    load_license,
    renew,
)
from .errors import ERROR_CODES, LicenseError
from .format import BLOB_PREFIX, MAX_BLOB_LENGTH, MAX_INPUT_LENGTH, verify_blob
from .keys import (
    DEV_KID,
    DEV_PUBLIC_KEY_HEX,
    KeyRing,
    PublicKey,
    key_id,
    parse_public_key_list,
)
from .license import License, normalize_identity, same_identity
from .production import assert_production_safe, is_frozen_build
from .store import LICENSE_DIR, LICENSE_FILE, license_path

__version__ = "0.1.0"

__all__ = [
    "BLOB_PREFIX",
    "CLOCK_ROLLBACK_TOLERANCE_MS",
    "DEFAULT_CATALOGUE",
    "DEV_KID",
    "DEV_PUBLIC_KEY_HEX",
    "ERROR_CODES",
    "EXPIRING_DAYS",
    "INVALID_REASONS",
    "LAST_SEEN_REFRESH_MS",
    "LICENSE_DIR",
    "LICENSE_FILE",
    "MAX_BLOB_LENGTH",
    "MAX_INPUT_LENGTH",
    "STATES",
    "STATUS_EXIT",
    "TIERS",
    "Catalogue",
    "ChangeResult",
    "CheckIn",
    "Feature",
    "KeyRing",
    "License",
    "LicenseClient",
    "LicenseError",
    "LicenseStatus",
    "PublicKey",
    "RemoveResult",
    "activate",
    "assert_production_safe",
    "deactivate",
    "features_for_tier",
    "is_frozen_build",
    "is_tier",
    "key_id",
    "license_path",
    "load_catalogue_file",
    "load_license",
    "normalize_identity",
    "parse_catalogue",
    "parse_public_key_list",
    "renew",
    "same_identity",
    "verify_blob",
]
