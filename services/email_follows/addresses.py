"""E-mail addresses as the follows keep them: checked, normalised, keyed for lookups, masked for logs."""
from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app

MAX_LENGTH = 254
# Loose on purpose (the confirmation mail is the real check): one @, no spaces, a dot in the domain.
_SHAPE = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[^@\s<>()\[\],;:\"_]+\.[^@\s<>()\[\],;:\"_]{2,}$")


class InvalidAddress(ValueError):
    """The text is not an e-mail address the portal can write to; `message` says why in pt-BR."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalize(text: str | None) -> str:
    """The address in lower case without surrounding spaces, or InvalidAddress."""
    value = (text or "").strip()
    if not value:
        raise InvalidAddress("Digite o seu endereço de e-mail.")
    if len(value) > MAX_LENGTH:
        raise InvalidAddress(f"O endereço de e-mail pode ter até {MAX_LENGTH} caracteres.")
    if not value.isascii():
        # SMTPUTF8 is not something every mail server speaks: the notices could not reach such an address.
        raise InvalidAddress("Use um endereço de e-mail sem acentos nem cedilha, como nome@exemplo.com.br.")
    value = value.lower()
    if not _SHAPE.match(value) or ".." in value or value.startswith(".") or ".@" in value:
        raise InvalidAddress("Este endereço de e-mail não parece completo. Confira: ele deve ser como "
                             "nome@exemplo.com.br.")
    return value


def digest(address: str) -> str:
    """HMAC-SHA256 of the normalised address with the app's secret: lookups and limits without reading addresses."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"email-follows:" + address.encode(), hashlib.sha256).hexdigest()


def masked(address: str | None) -> str:
    """For logs: the first letter of the mailbox and the domain, e.g. "m***@exemplo.com.br"."""
    if not address or "@" not in address:
        return "***"
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"
