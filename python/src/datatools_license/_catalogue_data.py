"""The built-in catalogue: generated from src/core/catalogue.ts (DEFAULT_CATALOGUE) by
python/tools/write-catalogue.mjs; do not edit. CI checks that it is current."""

CATALOGUE = {
    "features": [
        {
            "id": "deduplicator",
            "name": "Deduplicator"
        },
        {
            "id": "text-cleaner",
            "name": "Text Cleaner"
        },
        {
            "id": "format-standardizer",
            "name": "Format Standardizer"
        },
        {
            "id": "column-splitter",
            "name": "Column Splitter"
        },
        {
            "id": "data-validator",
            "name": "Data Validator"
        },
        {
            "id": "table-merger",
            "name": "Table Merger"
        },
        {
            "id": "pivot-builder",
            "name": "Pivot Builder"
        },
        {
            "id": "outlier-finder",
            "name": "Outlier Finder"
        },
        {
            "id": "batch-converter",
            "name": "Batch Converter"
        },
        {
            "id": "automation",
            "name": "Workflow Automation (pro)"
        },
        {
            "id": "scheduled-runs",
            "name": "Scheduled Runs (pro)"
        }
    ],
    "tiers": {
        "lite": [
            "deduplicator",
            "text-cleaner",
            "format-standardizer"
        ],
        "core": [
            "deduplicator",
            "text-cleaner",
            "format-standardizer",
            "column-splitter",
            "data-validator",
            "table-merger",
            "pivot-builder",
            "outlier-finder",
            "batch-converter"
        ],
        "pro": [
            "deduplicator",
            "text-cleaner",
            "format-standardizer",
            "column-splitter",
            "data-validator",
            "table-merger",
            "pivot-builder",
            "outlier-finder",
            "batch-converter",
            "automation",
            "scheduled-runs"
        ]
    }
}
