from cleanroom.v1 import audit_pb2 as _audit_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPipelineValueRequest(_message.Message):
    __slots__ = ("agreement_id", "run_id")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    run_id: str
    def __init__(self, agreement_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class PipelineValueRelease(_message.Message):
    __slots__ = ("body_json", "signature", "audit_head")
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_HEAD_FIELD_NUMBER: _ClassVar[int]
    body_json: str
    signature: bytes
    audit_head: _audit_pb2.AuditHead
    def __init__(self, body_json: _Optional[str] = ..., signature: _Optional[bytes] = ..., audit_head: _Optional[_Union[_audit_pb2.AuditHead, _Mapping]] = ...) -> None: ...
