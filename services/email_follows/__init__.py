"""Citizens follow a process by e-mail: double opt-in, a notice when it moves, one-click unsubscribe.

- `subscriptions` — `subscribe(number, address, consented)`, `confirm(token)`, `unsubscribe(token)`,
  `unsubscribe_all(token)`: the citizen's side, with the limits and no hint of which addresses are known;
- `notices` — `send_notices()` after a sync, `cleanup()` daily, `followed_numbers()` (or `followed_numbers_select()`)
  for the sync's selection and retention, `counts()` for the dashboard (figures only);
- `outbox` — each message is a delivery row; `deliver(id)` / `deliver_job(id)` send it (idempotent, retried);
- `mailer` — the messages (HTML + plain text, pt-BR, List-Unsubscribe) and SMTP or the `instance/outbox/` folder;
- `tokens` — the signed links; `addresses` — checking, keyed digest, masking; `consent` — the text and its version;
- `commands` — `flask follows notify | cleanup | stats | bounce ADDRESS`.
"""
from services.email_follows.addresses import InvalidAddress
from services.email_follows.commands import cli
from services.email_follows.consent import TEXT as CONSENT_TEXT
from services.email_follows.consent import VERSION as CONSENT_VERSION
from services.email_follows.mailer import configured
from services.email_follows.notices import cleanup, counts, followed_numbers, followed_numbers_select, send_notices
from services.email_follows.outbox import deliver, deliver_job, record_bounce, retry_pending
from services.email_follows.subscriptions import (
    ConsentMissing,
    LinkUsed,
    RestrictedProcess,
    TooManyConfirmations,
    TooManyFollows,
    confirm,
    subscribe,
    unsubscribe,
    unsubscribe_all,
)
from services.email_follows.tokens import TokenExpired, TokenInvalid
from services.email_follows.tokens import read_confirmation as check_confirmation
from services.email_follows.tokens import read_unsubscribe as check_unsubscribe
from services.email_follows.tokens import read_unsubscribe_all as check_unsubscribe_all

__all__ = ["CONSENT_TEXT", "CONSENT_VERSION", "ConsentMissing", "InvalidAddress", "LinkUsed", "RestrictedProcess",
           "TokenExpired", "TokenInvalid", "TooManyConfirmations", "TooManyFollows", "check_confirmation",
           "check_unsubscribe", "check_unsubscribe_all", "cleanup", "cli", "configured",
           "confirm", "counts", "deliver", "deliver_job", "followed_numbers", "followed_numbers_select",
           "record_bounce", "retry_pending", "send_notices", "subscribe", "unsubscribe", "unsubscribe_all"]
