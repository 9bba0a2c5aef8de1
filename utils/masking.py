"""Remove personal data and secrets from free text before it is logged or stored (LGPD).

Pure functions. The patterns favour masking too much over too little, but leave CNJ process
numbers (NNNNNNN-DD.AAAA.J.TR.OOOO, or 20 bare digits) intact: they are the portal's subject.
"""
import re

# Order matters: secrets and the longer numbers first, so a CNPJ is not half-eaten as a CPF.
_RULES = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer ***"),
    (re.compile(r"(?i)\bapikey\s+[A-Za-z0-9._~+/=-]+"), "APIKey ***"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), "sk-***"),
    (re.compile(r"(?i)\b(api[_-]?key|access[_-]?token|token|secret|password|senha|authorization)"
                r"(\s*[=:]\s*)([^\s&\"',;]+)"), r"\1\2***"),
    (re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "***@***"),
    (re.compile(r"(?<![\d.])\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?![\d.])"), "**.***.***/****-**"),
    (re.compile(r"(?<![\d.])\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?![\d.-])"), "***.***.***-**"),
    (re.compile(r"(?<![\d.])\d{1,2}\.\d{3}\.\d{3}-[\dXx](?![\d.])"), "**.***.***-*"),
    # An RG written without punctuation is only recognisable by its label: "RG 1234567", "identidade nº 12345678".
    (re.compile(r"(?i)\b(rg|r\.g\.|identidade)(\s*(?:n[º°o.]*|é|e|eh)?\s*[:=]?\s*)(?:[A-Z]{2}[\s-]?)?[\dXx][\dXx.\s-]{3,14}[\dXx]"),
     r"\1\2*******"),
    # Phones: (27) 3246-8200, 27 99999-9999, +55 27 99999 9999, 27999999999 (11 digits is a CPF above).
    (re.compile(r"(?:\+55[\s-]?)?(?:\(\d{2}\)\s?|(?<![\d.])\d{2}[\s-])9?\d{4}[\s-]?\d{4}(?![\d.])"), "(**) *****-****"),
    (re.compile(r"(?<![\d.-])9?\d{4}-\d{4}(?![\d.])"), "*****-****"),
)


# Every rule needs a digit, an "@" (or its %40 form) or one of these words: text without any is clean.
_MAYBE_SENSITIVE = re.compile(r"[\d@]|bearer|apikey|sk-|key|token|secret|password|senha|authorization", re.I)


def mask(text: str) -> str:
    """Return `text` with CPF, CNPJ, RG, e-mail addresses, phone numbers, tokens and API keys masked."""
    if not text or not _MAYBE_SENSITIVE.search(text):
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
