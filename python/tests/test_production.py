"""Keys a build must never trust: weak (small-order or non-canonical) keys everywhere, and the
public development key in a frozen or production build."""

from __future__ import annotations

import sys

import pytest
from support import VENDOR_PUB

from datatools_license import (
    DEV_KID,
    DEV_PUBLIC_KEY_HEX,
    LicenseError,
    assert_production_safe,
    is_frozen_build,
    load_license,
    parse_public_key_list,
    verify_blob,
)
from datatools_license.keys import weakness

# The eight canonical encodings of the small-order points and the two non-canonical ones with
# x = 0 and the sign bit set (docs/FORMAT.md "Weak public keys").
SMALL_ORDER_Y = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
]
WEAK = SMALL_ORDER_Y + [y[:62] + format(int(y[62:], 16) | 0x80, "02x") for y in SMALL_ORDER_Y]
NON_CANONICAL = ["edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "ff" * 32]


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as PyInstaller's bootloader leaves it."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)


@pytest.mark.parametrize("key", WEAK + NON_CANONICAL)
def test_refuses_a_weak_key_everywhere_it_is_given(key: str) -> None:
    for use in (
        lambda: assert_production_safe([VENDOR_PUB, key]),
        lambda: load_license([key]),
        lambda: verify_blob("DTLIC2:e30.AA", [key]),
        lambda: parse_public_key_list(f"{VENDOR_PUB}, {key}", "DATATOOLS_LICENSE_PUBKEY"),
    ):
        with pytest.raises(LicenseError) as caught:
            use()
        assert caught.value.code == "KEY_WEAK"
        assert "anyone can sign a license" in caught.value.message
        assert key not in caught.value.message  # names the key's place, never its value


def test_a_small_order_key_with_a_forged_signature_would_otherwise_verify() -> None:
    # R = the identity point, S = 0: valid for every message under the identity as public key,
    # in OpenSSL; this is why the key is refused before any blob is read.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    identity = bytes.fromhex(SMALL_ORDER_Y[0])
    forged = identity + bytes(32)
    Ed25519PublicKey.from_public_bytes(identity).verify(forged, b"DTLIC2:anything")
    assert weakness(identity) is not None


def test_names_the_position_of_the_weak_key() -> None:
    with pytest.raises(LicenseError) as caught:
        assert_production_safe([VENDOR_PUB, "00" * 32])
    assert caught.value.message.startswith("public key 2 is a point of small order")


def test_refuses_keys_that_are_not_64_hex_characters_and_an_empty_list() -> None:
    with pytest.raises(LicenseError) as caught:
        assert_production_safe([VENDOR_PUB[:63]])
    assert (caught.value.code, caught.value.message) == (
        "KEY_INVALID",
        "public key 1 is 63 characters long; it must be exactly 64 hex characters (32 bytes)",
    )
    with pytest.raises(LicenseError) as caught:
        assert_production_safe([])
    assert caught.value.code == "KEY_MISSING"
    with pytest.raises(TypeError):
        assert_production_safe(VENDOR_PUB)  # a str is a sequence of str: refused at run time


def test_lets_a_development_run_trust_the_development_key() -> None:
    assert not is_frozen_build()
    assert_production_safe([DEV_PUBLIC_KEY_HEX])


def test_refuses_the_development_key_in_a_frozen_build_and_names_the_fix(frozen: None) -> None:
    assert is_frozen_build()
    for keys in ([DEV_PUBLIC_KEY_HEX], [VENDOR_PUB, DEV_PUBLIC_KEY_HEX.upper()]):
        with pytest.raises(LicenseError) as caught:
            assert_production_safe(keys)
        assert caught.value.code == "DEV_KEY_IN_PRODUCTION"
        message = caught.value.message
        assert message.startswith("this frozen build trusts the public development key")
        assert DEV_KID in message and "docs/BUILD.md" in message
        assert "vendor's public key" in message


def test_a_frozen_build_cannot_be_declared_development(frozen: None) -> None:
    with pytest.raises(LicenseError) as caught:
        assert_production_safe([DEV_PUBLIC_KEY_HEX], production=False)
    assert caught.value.code == "DEV_KEY_IN_PRODUCTION"


def test_refuses_the_development_key_when_told_it_is_production() -> None:
    with pytest.raises(LicenseError) as caught:
        assert_production_safe([DEV_PUBLIC_KEY_HEX], production=True)
    assert caught.value.code == "DEV_KEY_IN_PRODUCTION"
    assert caught.value.message.startswith("this production build trusts")


@pytest.mark.parametrize("production", [False, True])
def test_accepts_the_vendors_keys_in_production(frozen: None, production: bool) -> None:
    assert_production_safe([VENDOR_PUB], production=production)


def test_reads_no_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NODE_ENV", "DATATOOLS_ENV", "PYTHON_ENV"):
        monkeypatch.setenv(name, "development")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(LicenseError):
        assert_production_safe([DEV_PUBLIC_KEY_HEX])


def test_a_build_script_checks_the_key_list_of_the_environment() -> None:
    keys: list[str] = parse_public_key_list(
        f" {VENDOR_PUB.upper()},\n{DEV_PUBLIC_KEY_HEX} ", "PUBKEYS"
    )
    assert keys == [VENDOR_PUB, DEV_PUBLIC_KEY_HEX]
    with pytest.raises(LicenseError) as caught:
        parse_public_key_list(f"{VENDOR_PUB} abc", "PUBKEYS")
    assert caught.value.message.startswith("PUBKEYS (key 2) is 3 characters long")
    with pytest.raises(LicenseError):
        parse_public_key_list(" , ", "PUBKEYS")
