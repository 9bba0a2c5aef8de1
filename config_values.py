"""How one setting's text becomes a checked value: the parsers `config.py` applies to the environment it reads.

Each takes the mapping `config.py` passes in (never the process's environment itself), the variable's name and its
default, and returns the value or raises `ConfigError` with one line that names the variable.
"""
from __future__ import annotations

from urllib.parse import urlsplit


class ConfigError(Exception):
    """A setting has a value the portal cannot start with; the message names the variable."""


def integer(environ, name, default, minimum=0, maximum=None):
    return _bounded(environ, name, default, minimum, maximum, int, "a whole number", "d")


def number(environ, name, default, minimum=0.0, maximum=None):
    return _bounded(environ, name, default, minimum, maximum, float, "a number", "g")


def _bounded(environ, name, default, minimum, maximum, parse, kind: str, spec: str):
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = (f"between {minimum:{spec}} and {maximum:{spec}}" if maximum is not None
                  else f"at least {minimum:{spec}}")
        raise ConfigError(f"{name} must be {bounds}, got {value:{spec}}")
    return value


def http_url(environ, name, default):
    raw = (environ.get(name) or "").strip() or default
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def rate_limit(environ, name, default):
    """A Flask-Limiter limit such as "20/minute" or "100 per hour"."""
    raw = (environ.get(name) or "").strip() or default
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as 20/minute, got {raw!r}") from None
    return raw


def choice(environ, name, default, choices, transform=str.lower):
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = transform(raw.strip())
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def addresses(environ, name, default):
    """A comma-separated list of IP addresses or networks (CIDR), checked and kept as text."""
    import ipaddress

    raw = (environ.get(name) or "").strip() or default
    result = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"{name} must list IP addresses or networks separated by commas, got {item!r}") from None
        result.append(item)
    return tuple(result)


def thresholds(environ, name, default, higher_is_worse=True, maximum=None):
    """Three alert levels "warning,error,critical", in order of growing severity."""
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        levels = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be three numbers warning,error,critical, got {raw!r}") from None
    ordered = sorted(levels) if higher_is_worse else sorted(levels, reverse=True)
    if len(levels) != 3 or list(levels) != ordered or min(levels) < 0 or (maximum and max(levels) > maximum):
        direction = "growing" if higher_is_worse else "falling"
        raise ConfigError(f"{name} must be three {direction} numbers warning,error,critical"
                          f"{f' up to {maximum:g}' if maximum else ''}, got {raw!r}")
    return levels


def mail_address(environ, name, default):
    """An e-mail address, or "Name <address>"; checked loosely (one @, a dot in the domain, no spaces)."""
    from email.utils import parseaddr

    raw = (environ.get(name) or "").strip() or default
    if raw is None:
        return None
    address = parseaddr(raw)[1]
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain.strip(".") or " " in address:
        raise ConfigError(f"{name} must be an e-mail address such as avisos@tjes.jus.br, got {raw!r}")
    return raw
