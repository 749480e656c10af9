"""Fixtures for the processor tests: the real Arabic sample article."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE_SAMPLE = Path(__file__).parents[2] / "fixtures" / "dedup" / "seed-article-deir-ez-zor.txt"


@pytest.fixture(scope="session")
def sample_text() -> str:
    return FIXTURE_SAMPLE.read_text(encoding="utf-8")
