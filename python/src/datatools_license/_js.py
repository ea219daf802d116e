"""The few JavaScript behaviours the reference reader relies on, reproduced exactly, so this
package accepts, refuses and words things as the TypeScript client does: ECMAScript's ``\\s``,
``String.prototype.trim`` and ``length`` (UTF-16 code units), ``JSON.parse`` (numbers are
doubles, no nesting limit), ``JSON.stringify`` (for messages) and RFC 3339 times as
``Date`` reads them (year 0000 included, which ``datetime`` cannot hold)."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Optional, Union

#: ECMAScript's ``\s``: WhiteSpace and LineTerminator (docs/FORMAT.md, "Reading a blob").
WHITESPACE_CLASS = (
    "\t\n\u000b\u000c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
WHITESPACE = re.compile(f"[{WHITESPACE_CLASS}]+")
_TRIM = re.compile(f"^[{WHITESPACE_CLASS}]+|[{WHITESPACE_CLASS}]+$")


def trim(text: str) -> str:
    """``String.prototype.trim``: Python's ``str.strip`` removes a different set."""
    return _TRIM.sub("", text)


def length(text: str) -> int:
    """``String.prototype.length``: UTF-16 code units, so a character beyond U+FFFF counts twice."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


# ---------------------------------------------------------------------------------------------
# JSON.parse

JsonValue = Union[None, bool, float, str, list[Any], dict[str, Any]]


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


_DECODER = json.JSONDecoder(parse_int=float, parse_constant=_not_json)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]


def parse_json(text: str) -> JsonValue:
    """``JSON.parse``: RFC 8259 exactly (no ``NaN``/``Infinity``), every number a float as in
    JavaScript, duplicate names keeping the last value. Raises ``ValueError`` for anything that
    is not JSON. Python's parser recurses and gives up on deep nesting, which JavaScript's does
    not; such text is parsed again without recursion."""
    try:
        value: JsonValue = _DECODER.decode(text)
    except RecursionError:
        return _parse_without_recursion(text)
    return value


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\n\r":
        i += 1
    return i


def _key(text: str, i: int) -> tuple[str, int]:
    """A member's name and the index of its value, after the colon and any whitespace."""
    if not text.startswith('"', i):
        raise ValueError(f"expected a property name at {i}")
    key, i = _scanstring(text, i + 1, True)
    i = _skip(text, i)
    if not text.startswith(":", i):
        raise ValueError(f"expected ':' at {i}")
    return key, _skip(text, i + 1)


def _parse_without_recursion(text: str) -> JsonValue:
    # Each frame is [container, name of the member being read (objects only)].
    stack: list[list[Any]] = []
    i = _skip(text, 0)
    while True:
        value: Any
        c = text[i] if i < len(text) else ""
        if c == "{":
            i = _skip(text, i + 1)
            if text.startswith("}", i):
                value, i = {}, i + 1
            else:
                key, i = _key(text, i)
                stack.append([{}, key])
                continue
        elif c == "[":
            i = _skip(text, i + 1)
            if text.startswith("]", i):
                value, i = [], i + 1
            else:
                stack.append([[], None])
                continue
        elif c == '"':
            value, i = _scanstring(text, i + 1, True)
        elif text.startswith("true", i):
            value, i = True, i + 4
        elif text.startswith("false", i):
            value, i = False, i + 5
        elif text.startswith("null", i):
            value, i = None, i + 4
        else:
            m = _NUMBER.match(text, i)
            if not m:
                raise ValueError(f"unexpected character at {i}")
            value, i = float(m.group()), m.end()
        # A value is complete: store it, then close every container it completes.
        while True:
            i = _skip(text, i)
            if not stack:
                if i != len(text):
                    raise ValueError(f"extra data at {i}")
                result: JsonValue = value
                return result
            frame = stack[-1]
            container = frame[0]
            if isinstance(container, dict):
                container[frame[1]] = value
            else:
                container.append(value)
            if text.startswith(",", i):
                i = _skip(text, i + 1)
                if isinstance(container, dict):
                    frame[1], i = _key(text, i)
                break
            if text.startswith("}" if isinstance(container, dict) else "]", i):
                stack.pop()
                value, i = container, i + 1
                continue
            raise ValueError(f"expected ',' or a closing bracket at {i}")


def is_number(value: Any) -> bool:
    """True for a JSON number (``parse_json`` gives floats; bool is an int in Python)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# JSON.stringify, for messages that quote a value


def _number(x: float) -> str:
    """``Number.prototype.toString``: both languages print the shortest digits that round-trip;
    only the layout differs (``1`` not ``1.0``, ``1e-7`` not ``1e-07``, ``1e+21``)."""
    if math.isnan(x) or math.isinf(x):
        return "null"  # what JSON.stringify writes for them
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr gives the shortest digits that round-trip, as 123.45, 0.001, 1e-07 or 1.5e+21.
    mantissa, _, exponent = repr(abs(x)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    n = len(whole) + (int(exponent) if exponent else 0)  # the value is 0.d1d2…dk × 10^n
    significant = digits.lstrip("0")
    n -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    body = digits[0] + ("." + digits[1:] if k > 1 else "")
    return sign + body + "e" + ("+" if e >= 0 else "-") + str(abs(e))


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\ud800-\udfff]')


def _string(s: str) -> str:
    def escape(m: re.Match[str]) -> str:
        c = m.group()
        return _ESCAPES.get(c) or f"\\u{ord(c):04x}"

    # Python strings hold a pair of surrogates from "\ud83d\ude00" as one character, so every
    # surrogate left is a lone one, which JSON.stringify writes as an escape.
    return '"' + _NEEDS_ESCAPE.sub(escape, s) + '"'


def _is_index(key: str) -> bool:
    return key.isdigit() and key.isascii() and str(int(key)) == key and int(key) < 2**32 - 1


def _ordered_keys(obj: dict[str, Any]) -> list[str]:
    """A JavaScript object's own keys in order: array indices ascending, then the others."""
    indices = sorted((k for k in obj if _is_index(k)), key=int)
    return indices + [k for k in obj if not _is_index(k)]


def stringify(value: Any) -> str:
    """``JSON.stringify`` of a value ``parse_json`` gave, compact; without recursion, since
    ``parse_json`` accepts nesting of any depth."""
    out: list[str] = []
    # Work items: a value to write, or a literal piece of text (tagged as a 1-tuple).
    work: list[Any] = [value]
    while work:
        item = work.pop()
        if isinstance(item, tuple):
            out.append(item[0])
        elif item is None:
            out.append("null")
        elif item is True:
            out.append("true")
        elif item is False:
            out.append("false")
        elif isinstance(item, str):
            out.append(_string(item))
        elif is_number(item):
            out.append(_number(float(item)))
        elif isinstance(item, list):
            pieces: list[Any] = [("[",)]
            for n, element in enumerate(item):
                if n:
                    pieces.append((",",))
                pieces.append(element)
            pieces.append(("]",))
            work.extend(reversed(pieces))
        elif isinstance(item, dict):
            pieces = [("{",)]
            for n, key in enumerate(_ordered_keys(item)):
                pieces.append((("," if n else "") + _string(key) + ":",))
                pieces.append(item[key])
            pieces.append(("}",))
            work.extend(reversed(pieces))
        else:
            raise TypeError(f"cannot stringify {type(item).__name__}")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Times: RFC 3339 UTC to the second, as milliseconds since the epoch

_RFC3339_SECONDS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
DAY_MS = 86_400_000


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def parse_time(text: Any) -> Optional[int]:
    """Milliseconds since the epoch of ``YYYY-MM-DDThh:mm:ssZ``, a real instant (no 30 February,
    no 24:00:00, no leap second); ``None`` for anything else."""
    if not isinstance(text, str):
        return None
    m = _RFC3339_SECONDS.fullmatch(text)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 60):
        return None
    days = _days_from_civil(y, mo, d)
    if _civil_from_days(days) != (y, mo, d):
        return None  # a day the month does not have
    return ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000


def format_time(ms: int) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` of an instant, the milliseconds dropped (``formatTime``)."""
    days, rest = divmod(ms, DAY_MS)
    y, mo, d = _civil_from_days(days)
    seconds = rest // 1000
    return f"{y:04d}-{mo:02d}-{d:02d}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
