"""Every vector of test/vectors/dtlic2-vectors.json: the valid ones read back to their blob and
payload, the invalid ones are refused with their code, and every answer, message included, is
the TypeScript reader's."""

from __future__ import annotations

from typing import Any

import pytest
from support import TypeScript, load_vectors, public_hex, verify_answer

from datatools_license import KeyRing, LicenseError, key_id, verify_blob

VECTORS = load_vectors()
TRUSTED = [k["public_key_hex"] for k in VECTORS["keys"] if k["trusted"]]


def test_the_vector_file_holds_valid_and_invalid_vectors() -> None:
    assert len(VECTORS["valid"]) >= 3
    assert len(VECTORS["invalid"]) >= 80


@pytest.mark.parametrize("key", VECTORS["keys"], ids=lambda k: k["name"])
def test_each_vector_key_derives_its_public_key_and_kid(key: dict[str, Any]) -> None:
    assert public_hex(key["seed_hex"]) == key["public_key_hex"]
    assert key_id(bytes.fromhex(key["public_key_hex"])) == key["kid"]


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_accepts_the_valid_vector(vector: dict[str, Any]) -> None:
    lic = verify_blob(vector["input"], TRUSTED)
    assert lic.blob == vector["blob"]
    assert lic.payload() == vector["payload"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_refuses_the_invalid_vector_with_its_code(vector: dict[str, Any]) -> None:
    with pytest.raises(LicenseError) as caught:
        verify_blob(vector["input"], TRUSTED)
    assert caught.value.code == vector["error"]


def test_a_ready_key_ring_verifies_like_the_key_list() -> None:
    ring = KeyRing.from_hex(TRUSTED)
    for vector in VECTORS["valid"]:
        assert verify_blob(vector["input"], ring).blob == vector["blob"]


def test_gives_the_typescript_readers_answer_and_message_for_every_vector(ts: TypeScript) -> None:
    inputs: list[str] = [v["input"] for v in VECTORS["valid"] + VECTORS["invalid"]]
    expected = ts.oracle("verify", inputs=inputs, keys=TRUSTED)
    assert [verify_answer(text, TRUSTED) for text in inputs] == expected
