from cleanroom.v1 import audit_pb2 as _audit_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPLOAD_KIND_UNSPECIFIED: _ClassVar[UploadKind]
    UPLOAD_KIND_OWN: _ClassVar[UploadKind]
    UPLOAD_KIND_REBLINDED: _ClassVar[UploadKind]
UPLOAD_KIND_UNSPECIFIED: UploadKind
UPLOAD_KIND_OWN: UploadKind
UPLOAD_KIND_REBLINDED: UploadKind

class BeginUploadRequest(_message.Message):
    __slots__ = ("agreement_id", "terms_hash", "kind", "run_id", "total_points", "total_chunks", "total_accounts", "upload_digest", "of_upload_id", "purpose", "canary_scalar", "canary_positions", "party_signature", "points_digest", "base_run_id", "secret_tag", "removed_labels", "changed_labels", "changed_populations", "value_public")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TERMS_HASH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POINTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    OF_UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CANARY_SCALAR_FIELD_NUMBER: _ClassVar[int]
    CANARY_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    PARTY_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    POINTS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    BASE_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_TAG_FIELD_NUMBER: _ClassVar[int]
    REMOVED_LABELS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_LABELS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_POPULATIONS_FIELD_NUMBER: _ClassVar[int]
    VALUE_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    terms_hash: str
    kind: UploadKind
    run_id: str
    total_points: int
    total_chunks: int
    total_accounts: int
    upload_digest: str
    of_upload_id: str
    purpose: str
    canary_scalar: bytes
    canary_positions: bytes
    party_signature: bytes
    points_digest: str
    base_run_id: str
    secret_tag: str
    removed_labels: bytes
    changed_labels: bytes
    changed_populations: bytes
    value_public: bytes
    def __init__(self, agreement_id: _Optional[str] = ..., terms_hash: _Optional[str] = ..., kind: _Optional[_Union[UploadKind, str]] = ..., run_id: _Optional[str] = ..., total_points: _Optional[int] = ..., total_chunks: _Optional[int] = ..., total_accounts: _Optional[int] = ..., upload_digest: _Optional[str] = ..., of_upload_id: _Optional[str] = ..., purpose: _Optional[str] = ..., canary_scalar: _Optional[bytes] = ..., canary_positions: _Optional[bytes] = ..., party_signature: _Optional[bytes] = ..., points_digest: _Optional[str] = ..., base_run_id: _Optional[str] = ..., secret_tag: _Optional[str] = ..., removed_labels: _Optional[bytes] = ..., changed_labels: _Optional[bytes] = ..., changed_populations: _Optional[bytes] = ..., value_public: _Optional[bytes] = ...) -> None: ...

class UploadSession(_message.Message):
    __slots__ = ("run_id", "upload_id", "received_chunks", "max_chunk_points", "committed")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNK_POINTS_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    upload_id: str
    received_chunks: _containers.RepeatedScalarFieldContainer[int]
    max_chunk_points: int
    committed: bool
    def __init__(self, run_id: _Optional[str] = ..., upload_id: _Optional[str] = ..., received_chunks: _Optional[_Iterable[int]] = ..., max_chunk_points: _Optional[int] = ..., committed: _Optional[bool] = ...) -> None: ...

class PointChunk(_message.Message):
    __slots__ = ("upload_id", "seq", "points", "accounts", "populations", "digest", "records", "sealed", "value_ciphertexts")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    POPULATIONS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    VALUE_CIPHERTEXTS_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    seq: int
    points: bytes
    accounts: bytes
    populations: bytes
    digest: str
    records: bytes
    sealed: bytes
    value_ciphertexts: bytes
    def __init__(self, upload_id: _Optional[str] = ..., seq: _Optional[int] = ..., points: _Optional[bytes] = ..., accounts: _Optional[bytes] = ..., populations: _Optional[bytes] = ..., digest: _Optional[str] = ..., records: _Optional[bytes] = ..., sealed: _Optional[bytes] = ..., value_ciphertexts: _Optional[bytes] = ...) -> None: ...

class UploadProgress(_message.Message):
    __slots__ = ("upload_id", "received_chunks")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    received_chunks: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, upload_id: _Optional[str] = ..., received_chunks: _Optional[_Iterable[int]] = ...) -> None: ...

class CommitUploadRequest(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class UploadReceipt(_message.Message):
    __slots__ = ("upload_id", "run_id", "agreement_id", "terms_hash", "kind", "party", "total_points", "total_chunks", "upload_digest", "received_at", "signature", "audit_head")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TERMS_HASH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_POINTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_HEAD_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    run_id: str
    agreement_id: str
    terms_hash: str
    kind: UploadKind
    party: str
    total_points: int
    total_chunks: int
    upload_digest: str
    received_at: str
    signature: bytes
    audit_head: _audit_pb2.AuditHead
    def __init__(self, upload_id: _Optional[str] = ..., run_id: _Optional[str] = ..., agreement_id: _Optional[str] = ..., terms_hash: _Optional[str] = ..., kind: _Optional[_Union[UploadKind, str]] = ..., party: _Optional[str] = ..., total_points: _Optional[int] = ..., total_chunks: _Optional[int] = ..., upload_digest: _Optional[str] = ..., received_at: _Optional[str] = ..., signature: _Optional[bytes] = ..., audit_head: _Optional[_Union[_audit_pb2.AuditHead, _Mapping]] = ...) -> None: ...

class FetchPeerPointsRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class PartyProgress(_message.Message):
    __slots__ = ("party", "uploaded", "points", "reblinded")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    UPLOADED_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REBLINDED_FIELD_NUMBER: _ClassVar[int]
    party: str
    uploaded: bool
    points: int
    reblinded: bool
    def __init__(self, party: _Optional[str] = ..., uploaded: _Optional[bool] = ..., points: _Optional[int] = ..., reblinded: _Optional[bool] = ...) -> None: ...

class RunStatusRequest(_message.Message):
    __slots__ = ("agreement_id", "run_id", "purpose")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    run_id: str
    purpose: str
    def __init__(self, agreement_id: _Optional[str] = ..., run_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class RunStatus(_message.Message):
    __slots__ = ("run_id", "agreement_id", "state", "parties", "waiting_for", "reblind_needed", "peer_upload_id", "peer_points", "peer_chunks", "purpose", "failure", "peer_signature", "peer_canaries", "peer_upload_digest", "standing_run_id", "next_run_at", "peer_changes", "standing_upload_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    REBLIND_NEEDED_FIELD_NUMBER: _ClassVar[int]
    PEER_UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_POINTS_FIELD_NUMBER: _ClassVar[int]
    PEER_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    PEER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PEER_CANARIES_FIELD_NUMBER: _ClassVar[int]
    PEER_UPLOAD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    STANDING_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    PEER_CHANGES_FIELD_NUMBER: _ClassVar[int]
    STANDING_UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    agreement_id: str
    state: str
    parties: _containers.RepeatedCompositeFieldContainer[PartyProgress]
    waiting_for: _containers.RepeatedScalarFieldContainer[str]
    reblind_needed: bool
    peer_upload_id: str
    peer_points: int
    peer_chunks: int
    purpose: str
    failure: str
    peer_signature: bytes
    peer_canaries: str
    peer_upload_digest: str
    standing_run_id: str
    next_run_at: str
    peer_changes: str
    standing_upload_id: str
    def __init__(self, run_id: _Optional[str] = ..., agreement_id: _Optional[str] = ..., state: _Optional[str] = ..., parties: _Optional[_Iterable[_Union[PartyProgress, _Mapping]]] = ..., waiting_for: _Optional[_Iterable[str]] = ..., reblind_needed: _Optional[bool] = ..., peer_upload_id: _Optional[str] = ..., peer_points: _Optional[int] = ..., peer_chunks: _Optional[int] = ..., purpose: _Optional[str] = ..., failure: _Optional[str] = ..., peer_signature: _Optional[bytes] = ..., peer_canaries: _Optional[str] = ..., peer_upload_digest: _Optional[str] = ..., standing_run_id: _Optional[str] = ..., next_run_at: _Optional[str] = ..., peer_changes: _Optional[str] = ..., standing_upload_id: _Optional[str] = ...) -> None: ...
