"""Exception types shared by the coordinator and the participant client.

Every error a user can cause carries a message that says what was wrong and,
where it helps, what to do about it. CLIs print ``str(error)`` on one line.
"""

from __future__ import annotations


class CleanroomError(Exception):
    """Base of every error raised on purpose by Cleanroom."""


class InputError(CleanroomError):
    """A file, argument or request that cannot be used as given."""


class EmptyInput(InputError):
    """A file with no data rows (empty, or a header only): told apart so that a watcher can refuse it as a
    shrink to nothing rather than as a malformed file."""


class FilterError(InputError):
    """A population filter that cannot be used: its syntax, a column the file lacks, a value of the wrong type.
    The message names the population, and the position in the filter or the column and row."""


class ProtocolError(CleanroomError):
    """A peer or the coordinator sent something the protocol does not allow."""


# Refusals. Each class carries the one gRPC status (by name) and the one HTTP
# status it is answered with: this is the only status table. The message is shown
# to the caller. The gRPC adapter (cleanroom.wire.status) and the REST layer read
# these attributes; nothing else maps errors to statuses.


class RequestError(CleanroomError):
    """A request the coordinator refuses; ``code`` is the gRPC status name, ``http_status`` the REST one."""

    code = "INVALID_ARGUMENT"
    http_status = 400


class InvalidArgument(RequestError):
    code = "INVALID_ARGUMENT"
    http_status = 400


class Unauthenticated(RequestError):
    """No credentials, or ones nobody issued (REST: 401 with a Bearer challenge)."""

    code = "UNAUTHENTICATED"
    http_status = 401


class PermissionDenied(RequestError):
    code = "PERMISSION_DENIED"
    http_status = 403


class NotFound(RequestError):
    code = "NOT_FOUND"
    http_status = 404


class FailedPrecondition(RequestError):
    code = "FAILED_PRECONDITION"
    http_status = 409


class ResourceExhausted(RequestError):
    code = "RESOURCE_EXHAUSTED"
    http_status = 429


class DataLoss(RequestError):
    """Stored data fails its own integrity check (a release whose signature does not verify): not served."""

    code = "DATA_LOSS"
    http_status = 500


REFUSALS: tuple[type[RequestError], ...] = (
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    FailedPrecondition,
    ResourceExhausted,
    DataLoss,
)


def refusal_for(code: str) -> type[RequestError] | None:
    """The refusal class answered with gRPC status ``code`` (a status name), if it is one of ours."""
    return next((cls for cls in REFUSALS if cls.code == code), None)


def code_for_http_status(status: int) -> str:
    """The stable error code for an HTTP status raised outside our own refusals (routing, 405, ...)."""
    cls = next((cls for cls in REFUSALS if cls.http_status == status and status < 500), None)
    if cls is not None:
        return cls.code
    return {405: "METHOD_NOT_ALLOWED"}.get(status, "INVALID_ARGUMENT" if status < 500 else "INTERNAL")
