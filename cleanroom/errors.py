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
