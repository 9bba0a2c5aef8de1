"""A process's movements as a plain-language timeline: newest first, exact duplicates collapsed, grouped by day.

Each TPU movement code maps to a category through data/tpu_movement_categories.json, which
scripts/build_tpu_categories.py builds from CNJ's movement table. A code the table lacks (newer than mid-2021,
or none at all) is "outros", shown with the name DataJud sent.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from services.processes.model import SourceMovement
from utils.dates import COURT_TIMEZONE, parse_iso

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "tpu_movement_categories.json"
FALLBACK = "outros"


@dataclass(frozen=True)
class CategoryTable:
    source: str
    labels: Mapping[str, str]
    explanations: Mapping[str, str]
    codes: Mapping[int, str]


@dataclass(frozen=True)
class TimelineItem:
    date: datetime  # aware, in the court's time zone
    code: int | None
    name: str
    complements: tuple[str, ...]
    category: str
    category_label: str
    count: int  # how many identical copies the source sent (same code, instant and complements)


@dataclass(frozen=True)
class Day:
    date: date  # the court's calendar day
    items: list[TimelineItem]


@lru_cache(maxsize=8)
def load_categories(path: str | Path | None = None) -> CategoryTable:
    """The mapping file, read once per path; refuses a file that would leave a code or category unexplained."""
    data = json.loads(Path(path or DEFAULT_PATH).read_text(encoding="utf-8"))
    labels, explanations, codes = data["categories"], data["explanations"], data["codes"]
    if FALLBACK not in labels:
        raise ValueError(f"the category table has no {FALLBACK!r}")
    missing = (set(labels) - set(explanations)) | (set(codes.values()) - set(labels))
    if missing:
        raise ValueError(f"categories without a label or an explanation: {sorted(missing)}")
    return CategoryTable(
        source=data.get("tpu_source", ""),
        labels=MappingProxyType(dict(labels)),
        explanations=MappingProxyType(dict(explanations)),
        codes=MappingProxyType({int(code): category for code, category in codes.items()}),
    )


def category_of(code: int | str | None) -> str:
    if isinstance(code, str):
        code = int(code) if code.strip().isdigit() else None
    if code is None or isinstance(code, bool):
        return FALLBACK
    return load_categories().codes.get(code, FALLBACK)


def category_label(category: str) -> str:
    labels = load_categories().labels
    return labels.get(category, labels[FALLBACK])


def explanation(category: str) -> str:
    explanations = load_categories().explanations
    return explanations.get(category, explanations[FALLBACK])


def build_timeline(movements: Iterable[SourceMovement]) -> list[Day]:
    """Days newest first, each with its items newest first.

    Only exact duplicates collapse (into one item with a count): two identical acts at different times are two
    acts. Equal instants keep the source's order reversed, so the later record reads as the later event.
    """
    copies: dict[tuple, list] = {}
    for movement in movements:
        key = (movement.code, movement.at, movement.complements, movement.name if movement.code is None else "")
        if key in copies:
            copies[key][1] += 1
        else:
            copies[key] = [movement, 1]
    unique = sorted(copies.values(), key=lambda pair: (pair[0].at, pair[0].position), reverse=True)

    days: list[tuple[date, list[TimelineItem]]] = []
    for movement, count in unique:
        local = movement.at.astimezone(COURT_TIMEZONE)
        if not days or days[-1][0] != local.date():
            days.append((local.date(), []))
        days[-1][1].append(_item(movement, local, count))
    return [Day(date=day, items=items) for day, items in days]


def _item(movement: SourceMovement, local: datetime, count: int) -> TimelineItem:
    category = category_of(movement.code)
    label = category_label(category)
    return TimelineItem(date=local, code=movement.code, name=movement.name or label,
                        complements=movement.complements, category=category, category_label=label, count=count)


@dataclass(frozen=True)
class PageMovement:
    at: datetime  # in the court's time zone
    name: str
    complements: list[str]
    category: str
    label: str
    explanation: str


def days(instance: dict) -> list[tuple[datetime, list[PageMovement]]]:
    """An instance's movements for the page: by the court's calendar day, newest first."""
    grouped: dict = {}
    for movement in instance["movements"]:
        local = parse_iso(movement["date"]).astimezone(COURT_TIMEZONE)
        grouped.setdefault(local.date(), []).append(PageMovement(
            local, movement["name"], movement["complements"], movement["category"],
            category_label(movement["category"]), explanation(movement["category"])))
    return list(grouped.items())
