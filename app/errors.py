"""Service errors: each carries its HTTP status and the contract's error code."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: anything raised with a status and a code becomes the contract's error JSON."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}


class BadRequest(ServiceError):
    status = 400
    code = "bad_request"


class UnknownPart(BadRequest):
    code = "unknown_part"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "unsupported_media_type"


class UnprocessableInput(ServiceError):
    status = 422
    code = "unprocessable_input"


class MissingModality(UnprocessableInput):
    code = "missing_modality"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int = 1, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after_s))


class ServiceUnavailable(ServiceError):
    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 1, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after_s))


class QueueFull(ServiceUnavailable):
    code = "queue_full"


class Loading(ServiceUnavailable):
    code = "loading"


class Overloaded(ServiceUnavailable):
    code = "overloaded"


class DeadlineExceeded(ServiceUnavailable):
    code = "deadline_exceeded"


class BundleError(Exception):
    """A model bundle disagrees with itself or its model; stops start-up."""
