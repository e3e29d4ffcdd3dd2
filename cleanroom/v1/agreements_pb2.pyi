from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Agreement(_message.Message):
    __slots__ = ("agreement_id", "version", "terms_json", "terms_hash", "proposer", "counterparty", "approved_by", "state", "created_at", "encryption", "signing")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TERMS_JSON_FIELD_NUMBER: _ClassVar[int]
    TERMS_HASH_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    SIGNING_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    version: int
    terms_json: bytes
    terms_hash: str
    proposer: str
    counterparty: str
    approved_by: _containers.RepeatedScalarFieldContainer[str]
    state: str
    created_at: str
    encryption: _containers.RepeatedCompositeFieldContainer[PartyEncryption]
    signing: _containers.RepeatedCompositeFieldContainer[PartySigning]
    def __init__(self, agreement_id: _Optional[str] = ..., version: _Optional[int] = ..., terms_json: _Optional[bytes] = ..., terms_hash: _Optional[str] = ..., proposer: _Optional[str] = ..., counterparty: _Optional[str] = ..., approved_by: _Optional[_Iterable[str]] = ..., state: _Optional[str] = ..., created_at: _Optional[str] = ..., encryption: _Optional[_Iterable[_Union[PartyEncryption, _Mapping]]] = ..., signing: _Optional[_Iterable[_Union[PartySigning, _Mapping]]] = ...) -> None: ...

class PartySigning(_message.Message):
    __slots__ = ("party", "public_ed25519", "fingerprint")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_ED25519_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    party: str
    public_ed25519: bytes
    fingerprint: str
    def __init__(self, party: _Optional[str] = ..., public_ed25519: _Optional[bytes] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class PartyEncryption(_message.Message):
    __slots__ = ("party", "public_x25519", "fingerprint")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_X25519_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    party: str
    public_x25519: bytes
    fingerprint: str
    def __init__(self, party: _Optional[str] = ..., public_x25519: _Optional[bytes] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class ProposeAgreementRequest(_message.Message):
    __slots__ = ("counterparty", "terms_json", "encryption_public", "signing_public")
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    TERMS_JSON_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    counterparty: str
    terms_json: bytes
    encryption_public: bytes
    signing_public: bytes
    def __init__(self, counterparty: _Optional[str] = ..., terms_json: _Optional[bytes] = ..., encryption_public: _Optional[bytes] = ..., signing_public: _Optional[bytes] = ...) -> None: ...

class GetAgreementRequest(_message.Message):
    __slots__ = ("agreement_id",)
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    def __init__(self, agreement_id: _Optional[str] = ...) -> None: ...

class ApproveAgreementRequest(_message.Message):
    __slots__ = ("agreement_id", "terms_hash", "approver_terms_json", "amended_terms_hash", "encryption_public", "signing_public")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TERMS_HASH_FIELD_NUMBER: _ClassVar[int]
    APPROVER_TERMS_JSON_FIELD_NUMBER: _ClassVar[int]
    AMENDED_TERMS_HASH_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    terms_hash: str
    approver_terms_json: bytes
    amended_terms_hash: str
    encryption_public: bytes
    signing_public: bytes
    def __init__(self, agreement_id: _Optional[str] = ..., terms_hash: _Optional[str] = ..., approver_terms_json: _Optional[bytes] = ..., amended_terms_hash: _Optional[str] = ..., encryption_public: _Optional[bytes] = ..., signing_public: _Optional[bytes] = ...) -> None: ...

class ListAgreementsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgreementsResponse(_message.Message):
    __slots__ = ("agreements",)
    AGREEMENTS_FIELD_NUMBER: _ClassVar[int]
    agreements: _containers.RepeatedCompositeFieldContainer[Agreement]
    def __init__(self, agreements: _Optional[_Iterable[_Union[Agreement, _Mapping]]] = ...) -> None: ...

class RevokeAgreementRequest(_message.Message):
    __slots__ = ("agreement_id", "reason")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    reason: str
    def __init__(self, agreement_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
