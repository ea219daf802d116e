"""The tier -> features catalogue, as data. The built-in one is generated from the TypeScript
package's (src/core/catalogue.ts), so both sides unlock the same features for a tier; a vendor
can replace it with a JSON file of the same shape (docs/ADMIN.md) passed in as ``catalogue``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from . import _js
from ._catalogue_data import CATALOGUE as _BUILT_IN
from .errors import LicenseError

#: The three tiers a DTLIC2 payload may name.
TIERS: tuple[str, ...] = ("lite", "core", "pro")

_FEATURE_ID = re.compile("[a-z0-9][a-z0-9-]{0,63}")


def is_tier(value: Any) -> bool:
    """True when ``value`` is one of :data:`TIERS`."""
    return isinstance(value, str) and value in TIERS


@dataclass(frozen=True)
class Feature:
    """One feature a license can unlock. ``id`` is what an app passes to ``has_feature``."""

    id: str
    name: str


@dataclass(frozen=True)
class Catalogue:
    """Which features each tier unlocks."""

    features: tuple[Feature, ...]
    tiers: dict[str, tuple[str, ...]]

    def features_for_tier(self, tier: str) -> list[Feature]:
        """The features ``tier`` unlocks, in catalogue order (none for an unknown tier)."""
        wanted = set(self.tiers.get(tier, ()))
        return [f for f in self.features if f.id in wanted]


def parse_catalogue(value: Any, source: str = "the catalogue") -> Catalogue:
    """Validates a parsed JSON value as a :class:`Catalogue`: every tier present, every feature
    id well formed and unique, every tier entry a known id; ``CATALOGUE_INVALID`` naming
    ``source`` otherwise, with the TypeScript reader's messages."""

    def fail(why: str) -> LicenseError:
        return LicenseError("CATALOGUE_INVALID", f"{source}: {why}")

    if not isinstance(value, dict):
        raise fail('must be a JSON object with "features" and "tiers"')
    features = value.get("features")
    tiers = value.get("tiers")
    if not isinstance(features, list) or len(features) == 0:
        raise fail('"features" must be a non-empty array')
    ids: list[str] = []
    parsed: list[Feature] = []
    for i, f in enumerate(features):
        fid = f.get("id") if isinstance(f, dict) else None
        name = f.get("name") if isinstance(f, dict) else None
        if not isinstance(fid, str) or not _FEATURE_ID.fullmatch(fid):
            raise fail(f"features[{i}].id must be lower-case letters, digits and dashes")
        if not isinstance(name, str) or _js.trim(name) == "":
            raise fail(f"features[{i}].name must be text")
        if fid in ids:
            raise fail(f'feature id "{fid}" appears twice')
        ids.append(fid)
        parsed.append(Feature(fid, name))
    if not isinstance(tiers, dict):
        raise fail('"tiers" must be an object with lite, core and pro')
    out: dict[str, tuple[str, ...]] = {}
    for tier in TIERS:
        entries = tiers.get(tier)
        if not isinstance(entries, list):
            raise fail(f"tiers.{tier} must be an array of feature ids")
        for fid in entries:
            if not isinstance(fid, str) or fid not in ids:
                raise fail(f'tiers.{tier} names "{_display(fid)}", which is not in "features"')
        out[tier] = tuple(dict.fromkeys(entries))
    return Catalogue(tuple(parsed), out)


def _display(value: Any) -> str:
    """``String(value)`` for a JSON value, as the TypeScript message prints it."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if v is None else _display(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return _js.stringify(value)


def load_catalogue_file(path: str) -> Catalogue:
    """A vendor's catalogue JSON file (the shape docs/ADMIN.md gives). Ship it inside the app:
    a file the user can edit could map lite to every feature. ``FILE_UNREADABLE`` or
    ``CATALOGUE_INVALID`` when it cannot be used."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise LicenseError("FILE_UNREADABLE", f"cannot read the catalogue {path}") from err
    try:
        value = _js.parse_json(text)
    except ValueError as err:
        raise LicenseError("CATALOGUE_INVALID", f"{path} is not valid JSON") from err
    return parse_catalogue(value, path)


#: The built-in catalogue: nine data tools in three tiers (lite: the first three; core: all
#: nine; pro: all nine and the pro-only features).
DEFAULT_CATALOGUE: Catalogue = parse_catalogue(_BUILT_IN, "the built-in catalogue")


def features_for_tier(tier: str, catalogue: Optional[Catalogue] = None) -> list[Feature]:
    """The features a tier unlocks, in catalogue order.

    Example::

        [f.name for f in features_for_tier("lite")]
        # ['Deduplicator', 'Text Cleaner', 'Format Standardizer']
    """
    return (catalogue or DEFAULT_CATALOGUE).features_for_tier(tier)


def catalogue_to_json(catalogue: Catalogue) -> dict[str, Any]:
    """The catalogue in its JSON shape (``features`` and ``tiers``)."""
    return {
        "features": [{"id": f.id, "name": f.name} for f in catalogue.features],
        "tiers": {t: list(ids) for t, ids in catalogue.tiers.items()},
    }


__all__ = [
    "DEFAULT_CATALOGUE",
    "TIERS",
    "Catalogue",
    "Feature",
    "catalogue_to_json",
    "features_for_tier",
    "is_tier",
    "load_catalogue_file",
    "parse_catalogue",
]
