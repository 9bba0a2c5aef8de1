"""CNJ unified process numbers (Resolução CNJ 65/2008): NNNNNNN-DD.AAAA.J.TR.OOOO.

Pure functions, no I/O. `parse` turns whatever a person typed into the 20 stored digits, or raises
`InvalidCnj` with a reason code and a pt-BR message fit to show that person.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

CNJ_DIGITS = 20
# Generous for any punctuation people use, small enough that a pasted page is refused before any work.
MAX_INPUT_LENGTH = 100
TJES_SEGMENT = "8"
TJES_TRIBUNAL = "08"

_DIGITS = frozenset("0123456789")  # ASCII only: str.isdigit() would let full-width and other scripts in
_SEPARATORS = frozenset(".-/ ")
# The same two sets as patterns: every lookup parses its number, and a regex walks the text in C.
_ONLY_DIGITS_AND_SEPARATORS = re.compile(r"[0-9./ -]*")
_SEPARATOR = re.compile(r"[./ -]")
# `find_first` reads pasted text (an intimação, a PDF, an e-mail): longer than a typed number, still bounded.
MAX_FIND_INPUT_LENGTH = 300
# Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus, small and full-width
# hyphen-minus: what PDFs and word processors put where a person typed "-".
_DASHES = str.maketrans({ch: "-" for ch in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"})
_GAP = r"[^\S\n]*[.\-/]?[^\S\n]*"  # one optional separator with spaces (not line breaks) around it
# NNNNNNN-DD.AAAA.J.TR.OOOO in any of the spellings `parse` accepts, not inside a longer run of digits.
_CNJ_SHAPE = re.compile(r"(?<![0-9])[0-9]{7}" + _GAP + r"[0-9]{2}" + _GAP + r"[0-9]{4}" + _GAP + r"[0-9]"
                        + _GAP + r"[0-9]{2}" + _GAP + r"[0-9]{4}(?![0-9])")
_ASCII_DIGIT_RUN = re.compile(r"[0-9]")


class InvalidCnj(ValueError):
    """A text that is not a usable CNJ number; `code` says why, `message` tells the person in pt-BR."""

    CODES = ("empty", "length", "characters", "check_digits", "segment", "court", "other_court")

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Court:
    segment: str  # J, one digit
    tribunal: str  # TR, two digits
    name: str
    is_tjes: bool
    article: str = "do"  # pt-BR contraction that goes before the name: "do TRT…", "da Justiça Militar…"


# CNJ numbers the courts of the states 01–27 in this order, for the state courts (J=8) and the electoral ones (J=6)
# alike: alphabetical by the state's name as CNJ wrote it (so Sergipe, 25, comes before São Paulo, 26).
_STATES = (
    ("AC", "do Acre"), ("AL", "de Alagoas"), ("AP", "do Amapá"), ("AM", "do Amazonas"), ("BA", "da Bahia"),
    ("CE", "do Ceará"), ("DF", "do Distrito Federal"), ("ES", "do Espírito Santo"), ("GO", "de Goiás"),
    ("MA", "do Maranhão"), ("MT", "de Mato Grosso"), ("MS", "de Mato Grosso do Sul"), ("MG", "de Minas Gerais"),
    ("PA", "do Pará"), ("PB", "da Paraíba"), ("PR", "do Paraná"), ("PE", "de Pernambuco"), ("PI", "do Piauí"),
    ("RJ", "do Rio de Janeiro"), ("RN", "do Rio Grande do Norte"), ("RS", "do Rio Grande do Sul"),
    ("RO", "de Rondônia"), ("RR", "de Roraima"), ("SC", "de Santa Catarina"), ("SE", "de Sergipe"),
    ("SP", "de São Paulo"), ("TO", "do Tocantins"),
)
_SEGMENTS = {
    "1": "Supremo Tribunal Federal", "2": "Conselho Nacional de Justiça", "3": "Superior Tribunal de Justiça",
    "4": "Justiça Federal", "5": "Justiça do Trabalho", "6": "Justiça Eleitoral", "7": "Justiça Militar da União",
    "8": "Justiça Estadual", "9": "Justiça Militar Estadual",
}


def _court_table() -> dict[tuple[str, str], tuple[str, str]]:
    """(J, TR) -> (article, name). TR 00 is a superior court's own jurisdiction, 90 a council (Res. 65, art. 1º)."""
    table = {
        ("1", "00"): ("do", "Supremo Tribunal Federal (STF)"),
        ("2", "00"): ("do", "Conselho Nacional de Justiça (CNJ)"),
        ("3", "00"): ("do", "Superior Tribunal de Justiça (STJ)"),
        ("4", "90"): ("do", "Conselho da Justiça Federal (CJF)"),
        ("5", "00"): ("do", "Tribunal Superior do Trabalho (TST)"),
        ("5", "90"): ("do", "Conselho Superior da Justiça do Trabalho (CSJT)"),
        ("6", "00"): ("do", "Tribunal Superior Eleitoral (TSE)"),
        ("7", "00"): ("do", "Superior Tribunal Militar (STM)"),
        ("9", "13"): ("do", "Tribunal de Justiça Militar de Minas Gerais (TJMMG)"),
        ("9", "21"): ("do", "Tribunal de Justiça Militar do Rio Grande do Sul (TJMRS)"),
        ("9", "26"): ("do", "Tribunal de Justiça Militar de São Paulo (TJMSP)"),
    }
    for region in range(1, 7):
        table[("4", f"{region:02d}")] = ("do", f"TRF da {region}ª Região")
    for region in range(1, 25):
        table[("5", f"{region:02d}")] = ("do", f"TRT da {region}ª Região")
    # J=7 TR 01–12: the twelve Circunscrições Judiciárias Militares of the Justiça Militar da União.
    for district in range(1, 13):
        table[("7", f"{district:02d}")] = ("da", f"Justiça Militar da União ({district}ª CJM)")
    for number, (uf, of_state) in enumerate(_STATES, start=1):
        tr = f"{number:02d}"
        table[("6", tr)] = ("do", f"Tribunal Regional Eleitoral {of_state} (TRE-{uf})")
        tj = "do Distrito Federal e dos Territórios (TJDFT)" if uf == "DF" else f"{of_state} (TJ{uf})"
        table[("8", tr)] = ("do", f"Tribunal de Justiça {tj}")
    return table


_COURTS = _court_table()

_MSG_EMPTY = "Digite o número do processo (número CNJ, com 20 dígitos)."
_MSG_NO_NUMBER = ("Não encontramos um número de processo no texto. Digite o número CNJ, com 20 dígitos, "
                  "por exemplo 0022783-22.2017.8.08.0024.")
_MSG_TOO_LONG_TO_SEARCH = ("O texto é longo demais (mais de {limit} caracteres): cole só a linha com o número "
                           "do processo.")
_MSG_TOO_LONG = "O texto digitado é longo demais para um número de processo (o número CNJ tem 20 dígitos)."
_MSG_CHARACTERS = ("O número CNJ só pode ter algarismos, separados ou não por pontos, hífens, barras ou espaços; "
                   "confira o que foi digitado.")
_MSG_CHECK_DIGITS = "Os dígitos verificadores não conferem: confira os dois dígitos depois do hífen."
_MSG_SEGMENT = ("O número não corresponde a nenhum ramo da Justiça (o dígito logo depois do ano): "
                "confira o número.")
_MSG_COURT = ("O número não corresponde a nenhum tribunal (os dois dígitos depois do ramo da Justiça): "
              "confira o número.")
_MSG_OTHER_COURT = ("Este número é {article} {name}; esta página consulta processos da Justiça Estadual do "
                    "Espírito Santo (TJES).")


@functools.lru_cache(maxsize=4096)  # every lookup parses its number, and the busy numbers come back all day
def parse(text: str | None) -> str:
    """The 20 digits of a TJES process number typed in any common spelling, or `InvalidCnj` (not cached).

    Accepts surrounding whitespace and the separators ". - / space" anywhere between the digits.
    """
    digits = _digits_of(text)
    if not _check_digits_match(digits):
        raise InvalidCnj("check_digits", _MSG_CHECK_DIGITS)
    if digits[13] not in _SEGMENTS:
        raise InvalidCnj("segment", _MSG_SEGMENT)
    court = court_of(digits)
    if court is None:
        raise InvalidCnj("court", _MSG_COURT)
    if not court.is_tjes:
        raise InvalidCnj("other_court", _MSG_OTHER_COURT.format(article=court.article, name=court.name))
    return digits


@dataclass(frozen=True)
class Found:
    """The first CNJ-shaped number of a text, checked like `parse`, and what else the text held."""

    digits: str  # the 20 digits
    extra: str  # the text around the number, spaces collapsed ("" when the text was just the number)
    more_numbers: int  # further CNJ-shaped numbers after it, not looked up


def find_first(text: str | None) -> Found:
    """The first CNJ-shaped number in `text` (pasted from an intimação, a PDF, an e-mail), or `InvalidCnj`.

    Lenient where `parse` is strict: any dash, labels such as "Processo nº" and other words around the
    number are allowed; they come back in `extra`, for the page to mention. The number found is checked
    exactly as `parse` checks it (check digits, court). With no CNJ-shaped number at all, the error is the
    one `parse` gives for a text of only digits and separators (wrong length…), else "no number found".
    """
    if text is None or not text.strip():
        raise InvalidCnj("empty", _MSG_EMPTY)
    if len(text) > MAX_FIND_INPUT_LENGTH:
        raise InvalidCnj("length", _MSG_TOO_LONG_TO_SEARCH.format(limit=MAX_FIND_INPUT_LENGTH))
    normalised = text.translate(_DASHES)
    matches = list(_CNJ_SHAPE.finditer(normalised))
    if not matches:
        stripped = normalised.strip()
        if len(stripped) <= MAX_INPUT_LENGTH and all(ch in _DIGITS or ch in _SEPARATORS for ch in stripped):
            parse(stripped)  # raises the precise reason (length, …)
        if _ASCII_DIGIT_RUN.search(normalised) is None:
            raise InvalidCnj("characters", _MSG_NO_NUMBER)
        digits = "".join(ch for ch in normalised if ch in _DIGITS)
        if len(digits) < CNJ_DIGITS:
            raise InvalidCnj("length", f"O número CNJ tem 20 dígitos; encontramos {len(digits)} no texto.")
        raise InvalidCnj("characters", _MSG_NO_NUMBER)
    first = matches[0]
    digits = parse(first.group(0))
    extra = " ".join((normalised[:first.start()] + " " + normalised[first.end():]).split())
    return Found(digits=digits, extra=extra.strip(" .,;:"), more_numbers=len(matches) - 1)


def find_all(text: str | None) -> list[str]:
    """Every CNJ-shaped piece of `text`, in order, as written (unchecked): for lists such as a staff paste."""
    if not text:
        return []
    return [match.group(0) for match in _CNJ_SHAPE.finditer(text.translate(_DASHES))]


def format(cnj20: str) -> str:  # shadows the builtin on purpose: callers write `cnj.format(...)`
    """NNNNNNN-DD.AAAA.J.TR.OOOO for display."""
    d = _require_20(cnj20)
    return f"{d[:7]}-{d[7:9]}.{d[9:13]}.{d[13]}.{d[14:16]}.{d[16:]}"


def court_of(cnj20: str) -> Court | None:
    """The court the J and TR fields name, or None when they name none."""
    d = _require_20(cnj20)
    found = _COURTS.get((d[13], d[14:16]))
    if found is None:
        return None
    article, name = found
    return Court(segment=d[13], tribunal=d[14:16], name=name, is_tjes=_is_tjes_fields(d), article=article)


def is_tjes(cnj20: str) -> bool:
    return _is_tjes_fields(_require_20(cnj20))


def check_digits(n: str | int, year: str | int, j: str | int, tr: str | int, origin: str | int) -> str:
    """DD by ISO 7064 MOD 97-10: 98 - (N A J TR O × 100 mod 97), two digits.

    Some popular libraries use 97 instead of 98 and reject real numbers; this is the rule of Res. CNJ 65.
    """
    fields = [_field(value, width) for value, width in ((n, 7), (year, 4), (j, 1), (tr, 2), (origin, 4))]
    return f"{98 - (int(''.join(fields)) * 100) % 97:02d}"


def _digits_of(text: str | None) -> str:
    if text is None or not text.strip():
        raise InvalidCnj("empty", _MSG_EMPTY)
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidCnj("length", _MSG_TOO_LONG)
    stripped = text.strip()
    if not _ONLY_DIGITS_AND_SEPARATORS.fullmatch(stripped):
        raise InvalidCnj("characters", _MSG_CHARACTERS)
    digits = _SEPARATOR.sub("", stripped)
    if not digits:
        raise InvalidCnj("empty", _MSG_EMPTY)
    if len(digits) != CNJ_DIGITS:
        raise InvalidCnj("length", f"O número CNJ tem 20 dígitos; você digitou {len(digits)}.")
    return digits


def _check_digits_match(d: str) -> bool:
    # The whole number with DD moved to the end is ≡ 1 (mod 97) exactly when DD is right.
    return int(d[:7] + d[9:] + d[7:9]) % 97 == 1


def _is_tjes_fields(d: str) -> bool:
    return d[13] == TJES_SEGMENT and d[14:16] == TJES_TRIBUNAL


def _require_20(cnj20: str) -> str:
    if not isinstance(cnj20, str) or len(cnj20) != CNJ_DIGITS or any(ch not in _DIGITS for ch in cnj20):
        raise ValueError("expected the 20 digits of a CNJ number")
    return cnj20


def _field(value: str | int, width: int) -> str:
    text = f"{value:0{width}d}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    if len(text) != width or any(ch not in _DIGITS for ch in text):
        raise ValueError(f"expected {width} digits, got {value!r}")
    return text
