"""Builtin plugin: the real data sets, read from a local copy (``--data-root DIR``).

Nothing is downloaded: each loader reads what is on disk, checks it and says what is missing.
Where users put each data set, and the split lists genrebench ships, are described in the
repository's ``datasets/README.md``.
"""

from __future__ import annotations

from genrebench import DatasetSpec, hookimpl
from genrebench.datasets.loaders import fma, folder, gtzan, manifest, mtg_jamendo


@hookimpl
def genrebench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="gtzan",
            task="single-label",
            load=gtzan.load,
            validate=gtzan.validate,
            expected_layout=gtzan.EXPECTED_LAYOUT,
            description=(
                "GTZAN, 10 genres x 100 clips of 30 s. Splits: fault-filtered (default, "
                "443/197/290, Kereliuk and Sturm), stratified-500-250-250, stratified (seeded)"
            ),
        ),
        *(
            DatasetSpec(
                name=f"fma-{size}",
                task="single-label",
                load=fma.make_load(size),
                validate=fma.make_validate(size),
                expected_layout=fma.expected_layout(size),
                description=(
                    f"FMA {size} ({'8000 clips, 8' if size == 'small' else '25000 clips, 16'} "
                    "top genres) with its official training/validation/test split"
                ),
            )
            for size in fma.SIZES
        ),
        DatasetSpec(
            name=mtg_jamendo.NAME,
            task="multi-label",
            load=mtg_jamendo.make_load(mtg_jamendo.NAME, "all", fixed_tags=False),
            validate=mtg_jamendo.make_validate(mtg_jamendo.NAME),
            expected_layout=mtg_jamendo.EXPECTED_LAYOUT,
            description=(
                "MTG-Jamendo genre auto-tagging, 87 tags (option tags=all|topN|a,b,c), "
                "official splits split-0..split-4 (default split-0)"
            ),
        ),
        DatasetSpec(
            name=mtg_jamendo.TOP10_NAME,
            task="multi-label",
            load=mtg_jamendo.make_load(mtg_jamendo.TOP10_NAME, "top10", fixed_tags=True),
            validate=mtg_jamendo.make_validate(mtg_jamendo.TOP10_NAME),
            expected_layout=mtg_jamendo.EXPECTED_LAYOUT,
            description=(
                "MTG-Jamendo genre auto-tagging restricted to the 10 most frequent genre tags; "
                "splits split-0..split-4"
            ),
        ),
        DatasetSpec(
            name=folder.NAME,
            task="single-label",
            load=folder.load,
            validate=folder.validate,
            expected_layout=folder.EXPECTED_LAYOUT,
            description="your collection as DATA_ROOT/<label>/*.{wav,flac,mp3,ogg,au}",
        ),
        DatasetSpec(
            name=manifest.NAME,
            task="single-label",
            load=manifest.make_load(manifest.NAME, multi=False),
            validate=manifest.make_validate(manifest.NAME, multi=False),
            expected_layout=manifest.EXPECTED_LAYOUT,
            description="your collection listed in a CSV (path,label[,split])",
        ),
        DatasetSpec(
            name=manifest.MULTI_NAME,
            task="multi-label",
            load=manifest.make_load(manifest.MULTI_NAME, multi=True),
            validate=manifest.make_validate(manifest.MULTI_NAME, multi=True),
            expected_layout=manifest.EXPECTED_LAYOUT,
            description="your collection listed in a CSV (path,label with a|b|c,[split])",
        ),
    ]
