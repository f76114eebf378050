"""Phenotype definition files (`mash_kg.loaders.phenotype`); import into the graph:
tests/graph/test_phenotypes.py."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError


def test_header_only_phenotype_csv(tmp_path):
    from mash_kg.loaders.phenotype import read_phenotypes

    path = tmp_path / "ph.csv"
    path.write_text("phenotype,code,include_descendants,exclude\n")
    with pytest.raises(InputError, match=r"ph.csv: no phenotype rows below the header"):
        read_phenotypes(path)
