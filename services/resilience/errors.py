"""What a guarded call can end with, short of a response: the views turn these into a clear message."""


class DependencyUnavailable(Exception):
    """The dependency could not answer usefully now; `retry_after_s` says when trying again makes sense."""

    def __init__(self, name: str, reason: str, retry_after_s: float | None = None, status: int | None = None):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.status = status


class DependencyFailed(DependencyUnavailable):
    """Every allowed attempt failed (timeout, connection error, 408/429/5xx or a malformed body)."""


class ClientRateLimited(DependencyUnavailable):
    """The portal's own limit for this dependency is spent; nothing was sent."""


class MalformedResponse(Exception):
    """The dependency answered 2xx with a body the caller cannot use (HTML error page, truncated JSON)."""
