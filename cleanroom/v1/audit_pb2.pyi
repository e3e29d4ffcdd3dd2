from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditHead(_message.Message):
    __slots__ = ("count", "head_hash", "signed_at", "signature")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    count: int
    head_hash: str
    signed_at: str
    signature: bytes
    def __init__(self, count: _Optional[int] = ..., head_hash: _Optional[str] = ..., signed_at: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CurrentHeadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EntryHashesRequest(_message.Message):
    __slots__ = ("positions",)
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    positions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, positions: _Optional[_Iterable[int]] = ...) -> None: ...

class EntryHashesResponse(_message.Message):
    __slots__ = ("head", "entries")
    HEAD_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    head: AuditHead
    entries: _containers.RepeatedCompositeFieldContainer[EntryHash]
    def __init__(self, head: _Optional[_Union[AuditHead, _Mapping]] = ..., entries: _Optional[_Iterable[_Union[EntryHash, _Mapping]]] = ...) -> None: ...

class EntryHash(_message.Message):
    __slots__ = ("position", "entry_hash")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ENTRY_HASH_FIELD_NUMBER: _ClassVar[int]
    position: int
    entry_hash: str
    def __init__(self, position: _Optional[int] = ..., entry_hash: _Optional[str] = ...) -> None: ...
