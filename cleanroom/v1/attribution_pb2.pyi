from cleanroom.v1 import audit_pb2 as _audit_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunAttributionRequest(_message.Message):
    __slots__ = ("run_ids", "model", "as_of")
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    run_ids: _containers.RepeatedScalarFieldContainer[str]
    model: str
    as_of: str
    def __init__(self, run_ids: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., as_of: _Optional[str] = ...) -> None: ...

class ShowAttributionRequest(_message.Message):
    __slots__ = ("agreement_id",)
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    def __init__(self, agreement_id: _Optional[str] = ...) -> None: ...

class AttributionRelease(_message.Message):
    __slots__ = ("release_id", "body_json", "signature", "audit_head")
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_HEAD_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    body_json: str
    signature: bytes
    audit_head: _audit_pb2.AuditHead
    def __init__(self, release_id: _Optional[str] = ..., body_json: _Optional[str] = ..., signature: _Optional[bytes] = ..., audit_head: _Optional[_Union[_audit_pb2.AuditHead, _Mapping]] = ...) -> None: ...
