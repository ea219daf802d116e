"""One catalogue for both languages: the built-in one is generated from the TypeScript package's,
and a vendor's replacement is read with the same rules and messages."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import DEV_PUB, PYTHON_DIR, REPO, TypeScript, sign

from datatools_license import (
    DEFAULT_CATALOGUE,
    ERROR_CODES,
    LicenseError,
    features_for_tier,
    load_catalogue_file,
    parse_catalogue,
    verify_blob,
)
from datatools_license.catalogue import catalogue_to_json


def test_lite_has_three_tools_core_nine_and_pro_the_pro_only_features_too() -> None:
    assert [f.name for f in features_for_tier("lite")] == [
        "Deduplicator",
        "Text Cleaner",
        "Format Standardizer",
    ]
    core = [f.id for f in features_for_tier("core")]
    pro = [f.id for f in features_for_tier("pro")]
    assert len(core) == 9 and pro == core + ["automation", "scheduled-runs"]
    assert features_for_tier("gold") == []


def test_a_license_answers_for_its_tiers_features() -> None:
    lite = verify_blob(sign(tier="lite"), [DEV_PUB])
    assert lite.has_feature("deduplicator") and not lite.has_feature("pivot-builder")
    assert verify_blob(sign(tier="pro"), [DEV_PUB]).has_feature("automation")


def test_the_built_in_catalogue_is_the_typescript_one(ts: TypeScript) -> None:
    assert catalogue_to_json(DEFAULT_CATALOGUE) == ts.oracle("facts")["catalogue"]


def test_the_generated_module_is_current(ts: TypeScript) -> None:
    r = subprocess.run(
        [ts.node, str(PYTHON_DIR / "tools" / "write-catalogue.mjs"), "--check"],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert (r.returncode, r.stderr) == (0, "")


def test_every_code_is_one_of_the_typescript_codes_with_the_same_meaning(ts: TypeScript) -> None:
    theirs: dict[str, str] = ts.oracle("facts")["error_codes"]
    assert {code: theirs.get(code) for code in ERROR_CODES} == ERROR_CODES


BAD_CATALOGUES: list[Any] = [
    None,
    [],
    "catalogue",
    {},
    {"features": []},
    {"features": "x"},
    {"features": [{"id": "Upper", "name": "x"}]},
    {"features": [{"id": "-dash", "name": "x"}]},
    {"features": [{"id": "a" * 65, "name": "x"}]},
    {"features": ["deduplicator"]},
    {"features": [None]},
    {"features": [{"id": "a", "name": " \u00a0\ufeff"}]},
    {"features": [{"id": "a", "name": 5}]},
    {"features": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]},
    {"features": [{"id": "a", "name": "A"}]},
    {"features": [{"id": "a", "name": "A"}], "tiers": []},
    {"features": [{"id": "a", "name": "A"}], "tiers": {"lite": ["a"], "core": ["a"]}},
    {"features": [{"id": "a", "name": "A"}], "tiers": {"lite": ["a"], "core": "a", "pro": []}},
    {"features": [{"id": "a", "name": "A"}], "tiers": {"lite": ["b"], "core": [], "pro": []}},
    {"features": [{"id": "a", "name": "A"}], "tiers": {"lite": [5], "core": [], "pro": []}},
    {"features": [{"id": "a", "name": "A"}], "tiers": {"lite": [[1, None]], "core": [], "pro": []}},
    {"features": [{"id": "a", "name": "A"}], "tiers": {"lite": [{}], "core": [], "pro": []}},
    {"features": [{"id": "a", "name": "A"}], "tiers": {"lite": [None], "core": [], "pro": []}},
    {
        "features": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        "tiers": {"lite": ["b", "a", "b"], "core": ["a"], "pro": ["a", "b"], "gold": ["x"]},
    },
]


def test_reads_a_vendors_catalogue_with_the_typescript_rules_and_messages(ts: TypeScript) -> None:
    mine: list[dict[str, Any]] = []
    for value in BAD_CATALOGUES:
        try:
            mine.append({"ok": catalogue_to_json(parse_catalogue(value))})
        except LicenseError as err:
            mine.append({"error": {"code": err.code, "message": err.message}})
    assert mine == ts.oracle("catalogue", values=BAD_CATALOGUES)


def test_a_catalogue_file_replaces_the_built_in_one(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(
        json.dumps(
            {
                "features": [
                    {"id": "viewer", "name": "Viewer"},
                    {"id": "editor", "name": "Editor"},
                ],
                "tiers": {
                    "lite": ["viewer"],
                    "core": ["viewer", "editor"],
                    "pro": ["editor", "viewer"],
                },
            }
        ),
        encoding="utf-8",
    )
    catalogue = load_catalogue_file(str(path))
    assert [f.id for f in features_for_tier("pro", catalogue)] == ["viewer", "editor"]
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(LicenseError) as caught:
        load_catalogue_file(str(path))
    assert caught.value.code == "CATALOGUE_INVALID"
    with pytest.raises(LicenseError) as caught:
        load_catalogue_file(str(tmp_path / "missing.json"))
    assert caught.value.code == "FILE_UNREADABLE"
