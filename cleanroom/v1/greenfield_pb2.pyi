from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GreenfieldCell(_message.Message):
    __slots__ = ("theirs", "count", "suppressed")
    THEIRS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    theirs: str
    count: int
    suppressed: bool
    def __init__(self, theirs: _Optional[str] = ..., count: _Optional[int] = ..., suppressed: _Optional[bool] = ...) -> None: ...
