"""Exception types shared by the coordinator and the participant client.

Every error a user can cause carries a message that says what was wrong and,
where it helps, what to do about it. CLIs print ``str(error)`` on one line.
"""

from __future__ import annotations


class CleanroomError(Exception):
    """Base of every error raised on purpose by Cleanroom."""


class InputError(CleanroomError):
    """A file, argument or request that cannot be used as given."""


class ProtocolError(CleanroomError):
    """A peer or the coordinator sent something the protocol does not allow."""


# Domain errors of the coordinator. The wire layer maps each to one gRPC status
# (and the REST layer to one HTTP status); the message is shown to the caller.


class RequestError(CleanroomError):
    """A request the coordinator refuses; ``code`` names the gRPC status it maps to."""

    code = "INVALID_ARGUMENT"


class InvalidArgument(RequestError):
    code = "INVALID_ARGUMENT"


class NotFound(RequestError):
    code = "NOT_FOUND"


class PermissionDenied(RequestError):
    code = "PERMISSION_DENIED"


class FailedPrecondition(RequestError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(RequestError):
    code = "RESOURCE_EXHAUSTED"
