"""The API's OpenAPI document: openapi.yaml, read once per process and served as JSON."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

PATH = Path(__file__).resolve().parent / "openapi.yaml"


@lru_cache(maxsize=1)
def document() -> dict:
    return yaml.safe_load(PATH.read_text(encoding="utf-8"))
