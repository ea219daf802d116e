"""The reader against the TypeScript reader on text beyond the vector file: every single-character
change of a genuine blob, JSON payloads at the edges of what JSON and JavaScript allow, all
whitespace, the size limits, and key lists. Same answer, code and message, every time."""

from __future__ import annotations

import json
from typing import Any

from support import (
    DEV_SEED_HEX,
    OTHER_SEED_HEX,
    TypeScript,
    load_vectors,
    sign,
    sign_bytes,
    verify_answer,
)

from datatools_license import DEV_PUBLIC_KEY_HEX, KeyRing, LicenseError

VECTORS = load_vectors()
TRUSTED = [k["public_key_hex"] for k in VECTORS["keys"] if k["trusted"]]
GENUINE = VECTORS["valid"][0]["blob"]


def assert_same_as_typescript(ts: TypeScript, inputs: list[str], keys: list[str] = TRUSTED) -> None:
    expected = ts.oracle("verify", inputs=inputs, keys=keys)
    mine = [verify_answer(text, keys) for text in inputs]
    differ = [(text[:120], m, e) for text, m, e in zip(inputs, mine, expected) if m != e]
    assert differ == [], f"{len(differ)} of {len(inputs)} differ; first: {differ[:3]}"


def test_every_one_character_change_of_a_genuine_blob_gets_the_same_answer(ts: TypeScript) -> None:
    replacements = ["A", "a", "_", "-", ".", "=", "+", " ", "é", "\U0001f600", ""]
    inputs = []
    for i in range(len(GENUINE)):
        for r in replacements:
            if GENUINE[i] != r:
                inputs.append(GENUINE[:i] + r + GENUINE[i + 1 :])
    inputs += [GENUINE[:n] for n in range(len(GENUINE))]
    assert_same_as_typescript(ts, inputs)


def test_whitespace_anywhere_and_characters_that_only_look_like_it(ts: TypeScript) -> None:
    spaces = "\t\n\u000b\u000c\r \u00a0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
    lookalikes = "\u0085\u180e\u200b\u200c\u2060\u001c\u001f"
    inputs = []
    for c in spaces + lookalikes:
        inputs += [
            c + GENUINE + c,
            GENUINE[:7] + c + GENUINE[7:],
            GENUINE[:60] + c * 3 + GENUINE[60:],
        ]
    inputs += ["", " ", spaces, lookalikes, "DTLIC1:" + GENUINE[7:], "dtlic2:" + GENUINE[7:]]
    assert_same_as_typescript(ts, inputs)


def test_the_size_limits_count_as_javascript_does(ts: TypeScript) -> None:
    emoji = "\U0001f600"  # two UTF-16 code units, one Python character
    pad = VECTORS["max_blob_length"] - len(GENUINE)
    inputs = [
        " " * (65536 - len(GENUINE)) + GENUINE,
        " " * (65537 - len(GENUINE)) + GENUINE,
        emoji * 32768,
        emoji * 32767 + "DTLIC2:",
        "DTLIC2:" + "A" * (4096 - 7),
        "DTLIC2:" + "A" * (4097 - 7),
        "DTLIC2:" + emoji * 2045,
        "DTLIC2:" + emoji * 2044 + "A",
        GENUINE + "A" * pad,
        GENUINE + "A" * (pad + 1),
    ]
    assert_same_as_typescript(ts, inputs)


def payload_cases() -> list[bytes]:
    base = {
        "v": 2,
        "kid": "59af6f1f1d004b94",
        "license_key": "DT1-CORE-00000000-00000000",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "tier": "core",
        "issued_at": "2026-05-13T22:10:27Z",
        "expires_at": "2027-05-13T22:10:27Z",
    }
    rest = json.dumps({k: v for k, v in base.items() if k != "v"})[1:-1]

    def with_v(v: str) -> bytes:
        return ("{" + f'"v":{v},' + rest + "}").encode("utf-8")

    def with_field(name: str, raw: str) -> bytes:
        fields = {k: json.dumps(v) for k, v in base.items()}
        fields[name] = raw
        return ("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}").encode("utf-8")

    deep = "[" * 1200 + "]" * 1200  # deeper than Python's recursion limit, within the size limit
    deep_object = '{"a":' * 400 + "1" + "}" * 400
    cases = [
        with_v(v)
        for v in [
            "2.0",
            "2e0",
            "20e-1",
            "2.00000000000000001",
            "true",
            '"2"',
            "[2]",
            "{}",
            "null",
            "1e400",
            "-1e400",
            "-0",
            "0.1",
            "1e21",
            "1.5e21",
            "1e-7",
            "123e-20",
            "1E+2",
            '"\\u0000\\ud800 \\ud83d\\ude00"',
            '{"b":1,"1":2,"0":[3,{"x":null}]}',
            deep,
            "12345678901234567890123",
            "NaN",
            "Infinity",
            "-Infinity",
            "02",
            "+2",
            "2.",
        ]
    ]
    cases += [
        with_field("license_key", "123456789012345678901234567890"),
        with_field("name", '"\\ud800"'),
        with_field("name", '"Zo\\u00eb \\ud83d\\ude00 \\u2028"'),
        with_field("email", '""'),
        with_field("tier", '"lite"'),
        with_field("tier", '"LITE"'),
        with_field("unknown", deep),
        with_field("unknown", deep_object),
        with_field("__proto__", '{"v":3}'),
    ]
    for t in [
        "0000-02-29T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1900-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-10T23:60:00Z",
        "\uff12\uff10\uff12\uff16-01-10T00:00:00Z",
        "2026-01-10T00:00:00Z\n",
        " 2026-01-10T00:00:00Z",
        "+02026-01-10T00:00:00Z",
        "2026-01-10T00:00:00.000Z",
    ]:
        cases.append(with_field("issued_at", json.dumps(t)))
    cases += [
        b'{"v":2,"v":3}',
        b'{"v":3,"v":2,' + rest.encode() + b"}",
        b'{"v":2,"kid":"59af6f1f1d004b94","kid":"0000000000000000"}',
        b" \t\n\r" + with_v("2") + b" \n",
        b"\xef\xbb\xbf" + with_v("2"),
        with_v("2") + b" x",
        with_v("2")[:-1],
        deep.encode(),
        deep_object.encode(),
        b'{"v":2,"name":"a\x01b"}',
        b'{"v":2,"name":"\\x41"}',
        b'{"v":2,"name":"\xc0\xaf"}',
        b'{"v":2,"name":"\xed\xa0\x80"}',
        b'{"v":2,"name":"\xf4\x90\x80\x80"}',
        b'{"v":2,"name":"\xe2\x82"}',
        b'{"v":2} ',
        b"{}",
        b"",
        b"2",
        b'"text"',
        b"null",
    ]
    return cases


def test_signed_payloads_at_the_edges_of_json_get_the_same_answer(ts: TypeScript) -> None:
    cases = payload_cases()
    inputs = [sign_bytes(p) for p in cases]
    assert_same_as_typescript(ts, inputs)


def test_licenses_signed_by_each_key_and_none_get_the_same_answer(ts: TypeScript) -> None:
    inputs = [
        sign(),
        sign(OTHER_SEED_HEX),
        sign(DEV_SEED_HEX, kid="21fe31dfa154a261"),
        sign(DEV_SEED_HEX, tier="pro", name="Jürgen Straße", email="J@Example.COM"),
    ]
    assert_same_as_typescript(ts, inputs)
    assert_same_as_typescript(ts, inputs, keys=[DEV_PUBLIC_KEY_HEX])


def test_key_lists_are_refused_with_the_same_code_and_message(ts: TypeScript) -> None:
    dev = DEV_PUBLIC_KEY_HEX
    small_order = [
        "00" * 32,
        "01" + "00" * 31,
        "ec" + "ff" * 30 + "7f",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ]
    signed = [k[:62] + format(int(k[62:], 16) | 0x80, "02x") for k in small_order]
    non_canonical = ["ed" + "ff" * 30 + "7f", "ff" * 32, "ee" + "ff" * 30 + "7f"]
    lists: list[list[str]] = [
        [],
        [""],
        ["   "],
        [dev[:63]],
        [dev + "0"],
        ["zz" * 32],
        [dev[:62] + "\U0001f600"],
        [f" {dev}\n"],
        [dev.upper()],
        [dev, "00" * 32],
        [dev, dev],
        *[[k] for k in small_order + signed + non_canonical],
    ]
    mine: list[dict[str, Any]] = []
    for keys in lists:
        try:
            mine.append({"ok": [k.kid for k in KeyRing.from_hex(keys)]})
        except LicenseError as err:
            mine.append({"error": {"code": err.code, "message": err.message}})
    assert mine == ts.oracle("keyring", lists=lists)
