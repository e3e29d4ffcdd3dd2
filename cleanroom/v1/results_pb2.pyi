from cleanroom.v1 import audit_pb2 as _audit_pb2
from cleanroom.v1 import greenfield_pb2 as _greenfield_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetOverlapRequest(_message.Message):
    __slots__ = ("agreement_id", "run_id")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    run_id: str
    def __init__(self, agreement_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class OverlapCell(_message.Message):
    __slots__ = ("mine", "theirs", "count", "suppressed")
    MINE_FIELD_NUMBER: _ClassVar[int]
    THEIRS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    mine: str
    theirs: str
    count: int
    suppressed: bool
    def __init__(self, mine: _Optional[str] = ..., theirs: _Optional[str] = ..., count: _Optional[int] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class OverlapTotals(_message.Message):
    __slots__ = ("mine", "theirs", "overlap", "overlap_suppressed")
    MINE_FIELD_NUMBER: _ClassVar[int]
    THEIRS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    mine: int
    theirs: int
    overlap: int
    overlap_suppressed: bool
    def __init__(self, mine: _Optional[int] = ..., theirs: _Optional[int] = ..., overlap: _Optional[int] = ..., overlap_suppressed: _Optional[bool] = ...) -> None: ...

class OverlapRelease(_message.Message):
    __slots__ = ("agreement_id", "run_id", "viewer", "other", "cells", "totals", "terms_version", "terms_hash", "released_at", "min_count", "signature", "dp", "audit_head", "greenfield")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VIEWER_FIELD_NUMBER: _ClassVar[int]
    OTHER_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    TERMS_VERSION_FIELD_NUMBER: _ClassVar[int]
    TERMS_HASH_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    DP_FIELD_NUMBER: _ClassVar[int]
    AUDIT_HEAD_FIELD_NUMBER: _ClassVar[int]
    GREENFIELD_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    run_id: str
    viewer: str
    other: str
    cells: _containers.RepeatedCompositeFieldContainer[OverlapCell]
    totals: OverlapTotals
    terms_version: int
    terms_hash: str
    released_at: str
    min_count: int
    signature: bytes
    dp: DpSpend
    audit_head: _audit_pb2.AuditHead
    greenfield: _containers.RepeatedCompositeFieldContainer[_greenfield_pb2.GreenfieldCell]
    def __init__(self, agreement_id: _Optional[str] = ..., run_id: _Optional[str] = ..., viewer: _Optional[str] = ..., other: _Optional[str] = ..., cells: _Optional[_Iterable[_Union[OverlapCell, _Mapping]]] = ..., totals: _Optional[_Union[OverlapTotals, _Mapping]] = ..., terms_version: _Optional[int] = ..., terms_hash: _Optional[str] = ..., released_at: _Optional[str] = ..., min_count: _Optional[int] = ..., signature: _Optional[bytes] = ..., dp: _Optional[_Union[DpSpend, _Mapping]] = ..., audit_head: _Optional[_Union[_audit_pb2.AuditHead, _Mapping]] = ..., greenfield: _Optional[_Iterable[_Union[_greenfield_pb2.GreenfieldCell, _Mapping]]] = ...) -> None: ...

class DpSpend(_message.Message):
    __slots__ = ("epsilon_spent", "budget", "budget_remaining")
    EPSILON_SPENT_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    BUDGET_REMAINING_FIELD_NUMBER: _ClassVar[int]
    epsilon_spent: float
    budget: float
    budget_remaining: float
    def __init__(self, epsilon_spent: _Optional[float] = ..., budget: _Optional[float] = ..., budget_remaining: _Optional[float] = ...) -> None: ...

class GetRevealRequest(_message.Message):
    __slots__ = ("agreement_id", "run_id")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    run_id: str
    def __init__(self, agreement_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class RevealCell(_message.Message):
    __slots__ = ("mine", "theirs", "count", "suppressed")
    MINE_FIELD_NUMBER: _ClassVar[int]
    THEIRS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    mine: str
    theirs: str
    count: int
    suppressed: bool
    def __init__(self, mine: _Optional[str] = ..., theirs: _Optional[str] = ..., count: _Optional[int] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class RevealRelease(_message.Message):
    __slots__ = ("agreement_id", "run_id", "viewer", "other", "terms_version", "terms_hash", "released_at", "min_count", "cells", "rows", "rows_digest", "signature", "audit_head")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VIEWER_FIELD_NUMBER: _ClassVar[int]
    OTHER_FIELD_NUMBER: _ClassVar[int]
    TERMS_VERSION_FIELD_NUMBER: _ClassVar[int]
    TERMS_HASH_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ROWS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    AUDIT_HEAD_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    run_id: str
    viewer: str
    other: str
    terms_version: int
    terms_hash: str
    released_at: str
    min_count: int
    cells: _containers.RepeatedCompositeFieldContainer[RevealCell]
    rows: int
    rows_digest: str
    signature: bytes
    audit_head: _audit_pb2.AuditHead
    def __init__(self, agreement_id: _Optional[str] = ..., run_id: _Optional[str] = ..., viewer: _Optional[str] = ..., other: _Optional[str] = ..., terms_version: _Optional[int] = ..., terms_hash: _Optional[str] = ..., released_at: _Optional[str] = ..., min_count: _Optional[int] = ..., cells: _Optional[_Iterable[_Union[RevealCell, _Mapping]]] = ..., rows: _Optional[int] = ..., rows_digest: _Optional[str] = ..., signature: _Optional[bytes] = ..., audit_head: _Optional[_Union[_audit_pb2.AuditHead, _Mapping]] = ...) -> None: ...

class RevealedAccount(_message.Message):
    __slots__ = ("account", "their_account", "theirs", "sealed", "mine", "component")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    THEIR_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    THEIRS_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    MINE_FIELD_NUMBER: _ClassVar[int]
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    account: int
    their_account: int
    theirs: _containers.RepeatedScalarFieldContainer[str]
    sealed: bytes
    mine: _containers.RepeatedScalarFieldContainer[str]
    component: int
    def __init__(self, account: _Optional[int] = ..., their_account: _Optional[int] = ..., theirs: _Optional[_Iterable[str]] = ..., sealed: _Optional[bytes] = ..., mine: _Optional[_Iterable[str]] = ..., component: _Optional[int] = ...) -> None: ...

class RevealPart(_message.Message):
    __slots__ = ("release", "rows")
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    release: RevealRelease
    rows: _containers.RepeatedCompositeFieldContainer[RevealedAccount]
    def __init__(self, release: _Optional[_Union[RevealRelease, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[RevealedAccount, _Mapping]]] = ...) -> None: ...
