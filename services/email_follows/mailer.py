"""Composing the three messages (confirmation, notice, farewell) and handing them to SMTP or to the outbox folder.

`transmit(message)` is the only place that talks to the mail server: STARTTLS when MAIL_USE_TLS, a login when
MAIL_USERNAME is set. Its failures come back as two kinds: `PermanentFailure` (a 5xx about the recipient or the
message: the address is marked and nothing more goes to it) and `TransientFailure` (everything else: tried again).
With no MAIL_SERVER the message is written to MAIL_OUTBOX_DIR as a .eml file instead.
"""
from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import urlsplit

from flask import current_app, render_template

from services import content
from services.email_follows import tokens
from services.processes import summary, timeline
from services.processes.contract import provider_label
from utils import cnj
from utils.dates import COURT_TIMEZONE, format_court_moment, parse_iso

# Long headers stay whole (RFC 5322 allows 998 characters): folded at 78, the List-Unsubscribe link would be
# written as an encoded word, which mail programs do not read as a link.
POLICY = policy.default.clone(max_line_length=998)


class TransientFailure(Exception):
    """The server was unreachable, busy (4xx) or refused us (not the recipient): try again later."""


class PermanentFailure(Exception):
    """The server refused the recipient or the message for good (5xx)."""


def configured() -> bool:
    """True when MAIL_SERVER is set: e-mail really leaves; otherwise it goes to the outbox folder."""
    return bool(current_app.config["MAIL_SERVER"])


def link(endpoint: str, **values) -> str:
    """An absolute link into the portal at PUBLIC_BASE_URL, built outside any request (jobs send the mail)."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def _message(address: str, subject: str, template: str, **context) -> EmailMessage:
    config = current_app.config
    message = EmailMessage(policy=POLICY)
    message["From"] = config["MAIL_FROM"]
    message["To"] = address
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to these
    context |= {"subject": subject, "unit_name": content.current().unit.name}
    message.set_content(render_template(f"email_follows/mail/{template}.txt", **context))
    message.add_alternative(render_template(f"email_follows/mail/{template}.html", **context), subtype="html")
    message["Content-Language"] = "pt-BR"  # after the parts: set_content drops the Content-* headers
    return message


def _list_headers(message: EmailMessage, unsubscribe_url: str, number: str) -> None:
    """RFC 2369 + RFC 8058: mail programs show "cancelar inscrição" and POST to the link in one click."""
    targets = [f"<{unsubscribe_url}>"]
    mailbox = current_app.config["MAIL_UNSUBSCRIBE_ADDRESS"]
    if mailbox:
        targets.append(f"<mailto:{parseaddr(mailbox)[1]}?subject=cancelar%20{number}>")
    message["List-Unsubscribe"] = ", ".join(targets)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def confirmation(address: str, number: str, follow_id: int, nonce: str) -> EmailMessage:
    shown = cnj.format(number)
    confirm_url = link("email_follows.confirm", token=tokens.confirmation(follow_id, nonce))
    return _message(address, f"Confirme os avisos do processo {shown}", "confirm", number=shown,
                    confirm_url=confirm_url, process_url=link("public.process_page", numero=shown),
                    hours=tokens.CONFIRM_MAX_AGE_S // 3600)


def _plain(movement: dict) -> dict:
    """One movement as the process page says it: the category (an acórdão in 2º grau), its explanation, the name."""
    category = timeline.category_of(movement.get("code"))
    at = parse_iso(movement["at"]).astimezone(COURT_TIMEZONE)
    item = timeline.PageMovement(at=at, name=movement.get("name") or "", complements=movement.get("complements") or [],
                                 category=category, label=timeline.category_label(category),
                                 explanation=timeline.explanation(category))
    label, explanation = summary.movement_label(movement.get("degree") or "G1", item)
    return {"date": at.strftime("%d/%m/%Y"), "time": at.strftime("%H:%M"), "label": label,
            "explanation": explanation, "name": summary.official_name(item.name, item.complements)}


def _follow_links(number: str, follow_id: int, address_digest: str) -> dict:
    shown = cnj.format(number)
    return {"process_url": link("public.process_page", numero=shown),
            "unsubscribe_url": link("email_follows.unsubscribe",
                                    token=tokens.unsubscribe(follow_id, address_digest)),
            "unsubscribe_all_url": link("email_follows.unsubscribe_all",
                                        token=tokens.unsubscribe_all(address_digest))}


def notice(address: str, address_digest: str, number: str, follow_id: int, payload: dict) -> EmailMessage:
    shown = cnj.format(number)
    movements = [_plain(m) for m in payload.get("movements", [])]
    count = payload.get("total", len(movements))
    noun = "nova movimentação" if count == 1 else "novas movimentações"
    links = _follow_links(number, follow_id, address_digest)
    message = _message(address, f"Processo {shown}: {count} {noun}", "notice", number=shown, movements=movements,
                       count=count, noun=noun, fetched_at=format_court_moment(payload.get("fetched_at")),
                       source=provider_label(payload.get("source") or "datajud"), **links)
    _list_headers(message, links["unsubscribe_url"], shown)
    return message


def farewell(address: str, address_digest: str, number: str, follow_id: int, payload: dict) -> EmailMessage:
    shown = cnj.format(number)
    links = _follow_links(number, follow_id, address_digest)
    message = _message(address, f"Processo {shown}: avisos encerrados", "farewell", number=shown,
                       last_movement=format_court_moment(payload.get("last_movement_at")),
                       years=payload.get("years", 2), **links)
    _list_headers(message, links["unsubscribe_url"], shown)
    return message


def transmit(message: EmailMessage, name: str) -> str:
    """Send `message` (SMTP) or write it to the outbox; returns where it went ("smtp" or the file's path)."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return _write_outbox(message, name)
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT_S"]) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure(f"recipient refused: {codes[0]}") from None
        raise TransientFailure(f"recipient deferred: {codes[0] if codes else '?'}") from None
    except smtplib.SMTPDataError as exc:
        if exc.smtp_code >= 500:
            raise PermanentFailure(f"message refused: {exc.smtp_code}") from None
        raise TransientFailure(f"message deferred: {exc.smtp_code}") from None
    except smtplib.SMTPResponseException as exc:
        # The sender, the login or the server itself: the portal's settings, not the citizen's address.
        raise TransientFailure(f"server answered {exc.smtp_code} ({type(exc).__name__})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientFailure(f"{type(exc).__name__}: could not talk to the mail server") from None
    return "smtp"


def _write_outbox(message: EmailMessage, name: str) -> str:
    folder = current_app.config["MAIL_OUTBOX_DIR"]
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.eml")
    # Written beside, then renamed: a reader never sees half a message.
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(handle, "wb") as output:
        output.write(message.as_bytes())
    os.replace(temporary, path)
    return path
