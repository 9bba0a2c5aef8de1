"""The court's own content (content/): pages, FAQ and the unit's facts, loaded and checked once.

The same files feed the public pages and, later, the assistant. Loading fails with a
`ContentError` naming the file when a page lacks a field, a fact is set without its source, or a
file holds raw HTML (the CSP forbids inline styles and scripts, so Markdown only).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import frontmatter
import markdown
import yaml
from flask import current_app
from markdown.extensions.toc import slugify_unicode
from markupsafe import escape

HOME_SLUG = "inicio"
FAQ_SLUG = "perguntas-frequentes"
FAQ_TITLE = "Perguntas frequentes"
FAQ_NAV_ORDER = 4
LOOKUP_TITLE = "Consulta de processos"
LOOKUP_NAV_ORDER = 1.5  # right after Início: what most people come for
LOOKUP_SUMMARY = ("Consulte um processo do TJES pelo número CNJ e veja o andamento explicado em palavras simples. "
                  "A consulta é só pelo número do processo; não há busca por nome ou CPF.")
_RAW_HTML = re.compile(r"<\s*[A-Za-z!/]")
_PAGE_FIELDS = ("title", "summary", "nav_title", "nav_order", "updated")


class ContentError(Exception):
    """A content file is missing, malformed or breaks a rule; the message names the file."""


@dataclass(frozen=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    summary: str
    nav_title: str
    nav_order: int
    updated: date
    sources: tuple[Source, ...]
    html: str
    text: str

    @property
    def path(self) -> str:
        return "/" if self.slug == HOME_SLUG else f"/{self.slug}"


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer_html: str
    answer_text: str
    page: str | None
    sources: tuple[Source, ...]
    examples: tuple[str, ...] = ()  # ways people ask for it: the assistant matches questions against them
    verified_on: date | None = None  # when the answer was last checked against its sources


@dataclass(frozen=True)
class Fact:
    key: str
    label: str
    value: str | None
    source_url: str | None
    source_title: str | None
    verified_on: date | None
    note: str | None
    note_html: str | None = None  # the note as Markdown (named links), phone numbers as tel: links
    value_html: str | None = None  # the value escaped, phone numbers as tel: links

    @property
    def confirmed(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Unit:
    name: str
    court: str
    catalog_url: str
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class NavItem:
    title: str
    path: str
    slug: str


@dataclass(frozen=True)
class Content:
    pages: dict[str, Page]
    faq: tuple[FaqEntry, ...]
    unit: Unit
    nav: tuple[NavItem, ...]



def _render(text: str, origin: str) -> str:
    if _RAW_HTML.search(text):
        raise ContentError(f"{origin}: raw HTML is not allowed in content, use Markdown only")
    return markdown.markdown(text, extensions=["sane_lists", "toc"],
                             extension_configs={"toc": {"slugify": slugify_unicode}})


# Phone numbers as Brazilians write them in the content: 0800 lines, (DD) NNNN-NNNN, and the public services' short
# numbers (129 Defensoria, 180 Central da Mulher, 190 Polícia Militar) where they stand alone.
_PHONE = re.compile(r"(?<![\w/#:.-])(0800[ .]?\d{3}[ .]?\d{4}|\(\d{2}\) ?\d{4,5}-\d{4}|(?:129|180|190)(?![\w/]))")


def phone_links(html: str) -> str:
    """`html` (already safe) with every phone number in its text made a tel: link; text inside tags is left alone."""
    parts = re.split(r"(<[^>]+>)", html)
    inside_link = False
    for index, part in enumerate(parts):
        if part.startswith("<"):
            if re.match(r"<a\b", part):
                inside_link = True
            elif part.startswith("</a"):
                inside_link = False
            continue
        if not inside_link:
            parts[index] = _PHONE.sub(
                lambda m: f'<a href="tel:{re.sub(r"[^0-9]", "", m.group(1))}">{m.group(1)}</a>', part)
    return "".join(parts)


def _inline(text: str, origin: str) -> str:
    """One Markdown paragraph without its <p>, phone numbers linked."""
    html = _render(text, origin).strip()
    if html.startswith("<p>") and html.endswith("</p>"):
        html = html[3:-4]
    return phone_links(html)


def _plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _date(value, origin: str, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ContentError(f"{origin}: {field} must be an ISO date (AAAA-MM-DD), got {value!r}") from None


def _sources(raw, origin: str) -> tuple[Source, ...]:
    items = []
    for item in raw or ():
        if not isinstance(item, dict) or not item.get("title") or not str(item.get("url", "")).startswith("http"):
            raise ContentError(f"{origin}: every source needs a title and an http(s) url")
        items.append(Source(str(item["title"]), str(item["url"])))
    return tuple(items)


def _load_page(path: Path) -> Page:
    try:
        post = frontmatter.load(path)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path.name}: cannot be read ({exc})") from None
    missing = [name for name in _PAGE_FIELDS if post.get(name) in (None, "")]
    if missing:
        raise ContentError(f"{path.name}: missing front matter field(s): {', '.join(missing)}")
    html = phone_links(_render(post.content, path.name))
    return Page(
        slug=path.stem, title=str(post["title"]), summary=str(post["summary"]),
        nav_title=str(post["nav_title"]), nav_order=int(post["nav_order"]),
        updated=_date(post["updated"], path.name, "updated"), sources=_sources(post.get("sources"), path.name),
        html=html, text=_plain(html),
    )


def _load_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path.name}: cannot be read ({exc})") from None


def _load_faq(path: Path) -> tuple[FaqEntry, ...]:
    entries, seen = [], set()
    for index, raw in enumerate(_load_yaml(path) or ()):
        origin = f"{path.name} entry {index + 1}"
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("question") or not raw.get("answer"):
            raise ContentError(f"{origin}: needs id, question and answer")
        if raw["id"] in seen:
            raise ContentError(f"{origin}: duplicate id {raw['id']!r}")
        seen.add(raw["id"])
        html = phone_links(_render(str(raw["answer"]), origin))
        examples = raw.get("examples") or []
        if not isinstance(examples, list) or not all(isinstance(item, str) and item.strip() for item in examples):
            raise ContentError(f"{origin}: examples must be a list of questions (text)")
        verified = _date(raw["verified_on"], origin, "verified_on") if raw.get("verified_on") else None
        entries.append(FaqEntry(str(raw["id"]), str(raw["question"]), html, _plain(html), raw.get("page"),
                                _sources(raw.get("sources"), origin),
                                tuple(item.strip() for item in examples), verified))
    return tuple(entries)


def _load_unit(path: Path) -> Unit:
    raw = _load_yaml(path) or {}
    facts = []
    for item in raw.get("facts") or ():
        origin = f"{path.name} fact {item.get('key')!r}"
        value = item.get("value")
        if value is not None and (not item.get("source_url") or not item.get("verified_on")):
            raise ContentError(f"{origin}: a confirmed value needs source_url and verified_on")
        facts.append(Fact(
            key=str(item["key"]), label=str(item["label"]), value=None if value is None else str(value),
            source_url=item.get("source_url"), source_title=item.get("source_title"),
            verified_on=_date(item["verified_on"], origin, "verified_on") if item.get("verified_on") else None,
            note=item.get("note"),
            note_html=_inline(str(item["note"]), origin) if item.get("note") else None,
            value_html=None if value is None else phone_links(str(escape(str(value)))),
        ))
    for name in ("name", "court", "catalog_url"):
        if not raw.get(name):
            raise ContentError(f"{path.name}: missing {name}")
    return Unit(str(raw["name"]), str(raw["court"]), str(raw["catalog_url"]), tuple(facts))


def load(directory: Path) -> Content:
    """Read and check every content file under `directory`."""
    pages_dir = directory / "pages"
    if not pages_dir.is_dir():
        raise ContentError(f"{pages_dir} does not exist")
    pages = {page.slug: page for page in map(_load_page, sorted(pages_dir.glob("*.md")))}
    if HOME_SLUG not in pages:
        raise ContentError(f"pages/{HOME_SLUG}.md is required (the home page)")
    nav = [NavItem(p.nav_title, p.path, p.slug) for p in pages.values()]
    nav.append(NavItem(FAQ_TITLE, f"/{FAQ_SLUG}", FAQ_SLUG))
    nav.append(NavItem(LOOKUP_TITLE, "/consulta", "consulta"))
    order = {p.slug: p.nav_order for p in pages.values()} | {FAQ_SLUG: FAQ_NAV_ORDER, "consulta": LOOKUP_NAV_ORDER}
    nav.sort(key=lambda item: order[item.slug])
    return Content(pages, _load_faq(directory / "faq.yaml"), _load_unit(directory / "unit.yaml"), tuple(nav))


def init_app(app) -> None:
    app.extensions["content"] = load(Path(app.root_path) / "content")


def current() -> Content:
    return current_app.extensions["content"]


def titled_path(slug: str) -> tuple[str, str] | None:
    """The title and address of a page (the FAQ included), or None when no page has that slug."""
    if slug == FAQ_SLUG:
        return FAQ_TITLE, f"/{FAQ_SLUG}"
    page = current().pages.get(slug)
    return (page.title, page.path) if page else None
