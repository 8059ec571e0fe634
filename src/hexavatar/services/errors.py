"""Errors of the use cases. Each has a ``code``; web/errors.py maps codes to HTTP statuses."""

from __future__ import annotations

__all__ = [
    "InvalidCredentials",
    "InvalidInput",
    "NotFound",
    "RateLimited",
    "ServiceError",
    "Unauthenticated",
    "UsernameTaken",
]


class ServiceError(Exception):
    """Base class of every use-case error."""

    code = "service_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidInput(ServiceError, ValueError):
    code = "invalid_input"


class UsernameTaken(ServiceError):
    code = "username_taken"


class InvalidCredentials(ServiceError):
    code = "invalid_credentials"


class Unauthenticated(ServiceError):
    code = "unauthenticated"


class RateLimited(ServiceError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(ServiceError, LookupError):
    code = "not_found"
