"""The JSON reader (``_js.parse_json``) against JavaScript's ``JSON.parse``: what is JSON,
what is not, what the values are, at any depth, in both of its paths (Python's parser, and
the one without recursion that deep nesting falls back to)."""

from __future__ import annotations

import random
from typing import Any, Optional

import pytest
from support import TypeScript

from datatools_license import _js

SEEDS = [
    "{}",
    "[]",
    '""',
    "0",
    "-0",
    "1.5",
    "1e3",
    "1E-3",
    "true",
    "false",
    "null",
    '{"a":[1,2,{"b":null}],"c":"d"}',
    '[1,"2",[3,[4,[5]]]]',
    ' { "a" : 1 , "b" : [ ] } ',
    '"\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/"',
    '"\\ud800"',
    '"\\uDBFF\\uDFFF"',
    '"\u2028\u2029"',
    '{"a":1,"a":2}',
    '{"__proto__":1}',
    '{"1":1,"b":2,"0":3}',
    "123456789012345678901234567890",
    "1e400",
    "-1e400",
    "5e-324",
    "0.1e1",
    "[1e21,1e-7,100,1.5e300]",
]
BROKEN = [
    "",
    " ",
    "{",
    "}",
    "[",
    "]",
    "[1,]",
    "{,}",
    '{"a":1,}',
    '{"a" 1}',
    "{a:1}",
    "'a'",
    "01",
    "+1",
    "1.",
    ".1",
    "1e",
    "1e+",
    "-",
    "--1",
    "NaN",
    "Infinity",
    "-Infinity",
    "nul",
    "tru",
    "truex",
    '"\\x41"',
    '"\\u12"',
    '"\\u12G4"',
    '"a\x01b"',
    '"a\nb"',
    "[1 2]",
    '{"a":1 "b":2}',
    "1 2",
    "\ufeff{}",
    "\u00a0{}",
    "\u000b{}",
    "\u000c{}",
    "[1]]",
    "[[1]",
    '"unterminated',
    "{}x",
]


def mutations(rng: random.Random, text: str) -> list[str]:
    alphabet = '{}[]",:0123456789.eE+-tfnaul \\/u\t\n'
    out = []
    for _ in range(12):
        i = rng.randrange(len(text) + 1)
        kind = rng.randrange(3)
        if kind == 0:
            out.append(text[:i] + rng.choice(alphabet) + text[i:])
        elif kind == 1 and text:
            out.append(text[:i] + text[i + 1 :])
        elif text:
            out.append(text[:i] + rng.choice(alphabet) + text[i + 1 :])
    return out


def corpus() -> list[str]:
    rng = random.Random(20260513)
    texts = SEEDS + BROKEN
    for seed in SEEDS:
        texts += mutations(rng, seed)
    for depth in (999, 1001, 3000):
        texts.append("[" * depth + "]" * depth)
        texts.append('{"a":' * depth + "null" + "}" * depth)
        texts.append("[" * depth + "]" * (depth - 1))
        texts.append("[" * depth + "1," + "]" * depth)
    return texts


def stringified(parse: Any, text: str) -> Optional[str]:
    try:
        return _js.stringify(parse(text))
    except ValueError:
        return None


def test_parses_what_javascript_parses_and_refuses_what_it_refuses(ts: TypeScript) -> None:
    texts = corpus()
    expected = ts.oracle("parse_json", texts=texts)
    for parse in (_js.parse_json, _js._parse_without_recursion):
        got = [stringified(parse, t) for t in texts]
        differ = [
            (t[:80], g and g[:80], e and e[:80]) for t, g, e in zip(texts, got, expected) if g != e
        ]
        assert differ == [], f"{parse.__name__}: {len(differ)} differ; first: {differ[:5]}"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "[NaN]"])
def test_refuses_the_constants_pythons_json_module_allows(text: str) -> None:
    with pytest.raises(ValueError):
        _js.parse_json(text)


def test_numbers_are_doubles_as_in_javascript() -> None:
    value = _js.parse_json('{"v":2,"w":2.0,"x":20e-1,"big":12345678901234567890}')
    assert isinstance(value, dict)
    assert value["v"] == value["w"] == value["x"] == 2 and isinstance(value["v"], float)
    assert value["big"] == 12345678901234567000.0


def test_nesting_beyond_the_recursion_limit_is_read_not_refused() -> None:
    deep = "[" * 5000 + "]" * 5000
    value: Any = _js.parse_json(deep)
    for _ in range(4999):
        value = value[0]
    assert value == []
    assert _js.stringify(_js.parse_json(deep)) == deep


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-05-13T22:10:27Z", 1778710227000),
        ("1970-01-01T00:00:00Z", 0),
        ("0000-02-29T00:00:00Z", -62162121600000),
        ("2028-02-29T12:00:00Z", 1835438400000),
        ("1900-02-29T00:00:00Z", None),
        ("2026-13-01T00:00:00Z", None),
        ("2026-01-01T24:00:00Z", None),
        ("2026-01-01T00:00:60Z", None),
        ("2026-01-01T00:00:00z", None),
        ("2026-01-01T00:00:00Z\n", None),
        ("\u0662026-01-01T00:00:00Z", None),
    ],
)
def test_reads_times_as_javascripts_date_does(text: str, expected: Optional[int]) -> None:
    assert _js.parse_time(text) == expected
    if expected is not None:
        assert _js.format_time(expected) == text
