"""Remove personal data and secrets from free text before it is logged, stored or sent to a model (LGPD).

Pure functions, one definition per kind of data as Brazilians write it:
- CPF: 11 digits as 3-3-3-2 with any of `.`, `-`, `/` or a space between groups, or none ("123 456 789 09",
  "123.456.789/09", "12345678909");
- CNPJ: 14 digits as 2-3-3-4-2, the same separators ("12.345.678/0001-90", "12 345 678 0001 90");
- RG: "12.345.678-9", or any digits after the label RG / identidade;
- phone: an optional +55 (with or without a space), an area code in parentheses or followed by a separator, an
  optional ninth digit set apart or not, then 4 + 4 digits with an optional `-`, `.` or space between them
  ("+5527999998888", "(27) 9 9999 8888", "27.99999.8888", "3246-8200");
- e-mail: any Unicode letters on both sides of `@` (or its %40 form): "joão.ção@exemplo.com.br";
- secrets: bearer tokens, API keys, `password=`-style pairs.
The patterns favour masking too much over too little, but leave CNJ process numbers intact
(NNNNNNN-DD.AAAA.J.TR.OOOO, or 20 bare digits): they are the portal's subject. tests/test_masking.py checks every
form above and generated ones (hypothesis).
"""
import re

_SEP = r"[.\-/ ]?"  # what people put between digit groups
_NOT_AFTER_DIGIT = r"(?<!\d)(?<!\d[.\-/])"  # not the tail of a longer number (a date, an amount)
_NOT_BEFORE_DIGIT = r"(?![\d]|[.\-/]\d)"

CNPJ = re.compile(_NOT_AFTER_DIGIT + r"\d{2}" + _SEP + r"\d{3}" + _SEP + r"\d{3}" + _SEP + r"\d{4}" + _SEP + r"\d{2}"
                  + _NOT_BEFORE_DIGIT)
CPF = re.compile(_NOT_AFTER_DIGIT + r"\d{3}" + _SEP + r"\d{3}" + _SEP + r"\d{3}" + _SEP + r"\d{2}" + _NOT_BEFORE_DIGIT)
RG = re.compile(_NOT_AFTER_DIGIT + r"\d{1,2}\.\d{3}\.\d{3}-[\dXx]" + _NOT_BEFORE_DIGIT)
# An RG written without punctuation is only recognisable by its label: "RG 1234567", "identidade nº 12345678".
RG_LABELLED = re.compile(r"(?i)\b(rg|r\.g\.|identidade)(\s*(?:n[º°o.]*|é|e|eh)?\s*[:=]?\s*)(?:[A-Z]{2}[\s-]?)?"
                         r"[\dXx][\dXx.\s-]{3,14}[\dXx]")
_AREA = r"(?:\(\s?\d{2}\s?\)\s?|\d{2}[\s.\-]?)"
_PHONE_END = r"(?:9[\s.\-]?)?\d{4}[\s.\-]?\d{4}(?!\w|[.\-/]\d)"
PHONE = re.compile(
    r"(?:\+\s?55[\s.\-]?" + _AREA + r"|(?<!\w)(?<!\d[.\-/+])" + _AREA + r")" + _PHONE_END  # with the area code
    + r"|(?<!\w)(?<!\d[.\-/+])9?\d{4}[\s.\-]\d{4}(?!\w|[.\-/]\d)")  # without it, the two halves set apart
EMAIL = re.compile(r"[\w.%+\-]+(?:@|%40)[\w\-]+(?:\.[\w\-]+)+")

# Order matters: secrets first, then the longer numbers, so a CNPJ is not half-eaten as a CPF or a phone.
_RULES = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer ***"),
    (re.compile(r"(?i)\bapikey\s+[A-Za-z0-9._~+/=-]+"), "APIKey ***"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), "sk-***"),
    (re.compile(r"(?i)\b(api[_-]?key|access[_-]?token|token|secret|password|senha|authorization)"
                r"(\s*[=:]\s*)([^\s&\"',;]+)"), r"\1\2***"),
    (EMAIL, "***@***"),
    (CNPJ, "**.***.***/****-**"),
    (CPF, "***.***.***-**"),
    (RG, "**.***.***-*"),
    (RG_LABELLED, r"\1\2*******"),
    (PHONE, "(**) *****-****"),
)

# Every rule needs a digit, an "@" (or its %40 form) or one of these words: text without any is clean.
_MAYBE_SENSITIVE = re.compile(r"[\d@]|bearer|apikey|sk-|key|token|secret|password|senha|authorization", re.I)
_CNJ = re.compile(r"(?<!\d)\d{7}-\d{2}\.\d{4}\.\d\.\d{2}\.\d{4}(?!\d)|(?<!\d)\d{20}(?!\d)")


def mask(text: str) -> str:
    """Return `text` with CPF, CNPJ, RG, e-mail addresses, phone numbers, tokens and API keys masked."""
    if not text or not _MAYBE_SENSITIVE.search(text):
        return text
    # CNJ numbers are set aside first: their digit groups look like the other numbers' parts.
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _CNJ.sub(keep, text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    if kept:
        text = re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)
    return text
