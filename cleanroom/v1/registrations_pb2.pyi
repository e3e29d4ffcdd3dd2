from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Program(_message.Message):
    __slots__ = ("program_id", "vendor", "title", "program_public", "partners", "expiry_seconds", "reveal_date", "reveal_holder", "max_checks_per_day", "created_at")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    PARTNERS_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REVEAL_DATE_FIELD_NUMBER: _ClassVar[int]
    REVEAL_HOLDER_FIELD_NUMBER: _ClassVar[int]
    MAX_CHECKS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    vendor: str
    title: str
    program_public: bytes
    partners: _containers.RepeatedScalarFieldContainer[str]
    expiry_seconds: int
    reveal_date: bool
    reveal_holder: bool
    max_checks_per_day: int
    created_at: str
    def __init__(self, program_id: _Optional[str] = ..., vendor: _Optional[str] = ..., title: _Optional[str] = ..., program_public: _Optional[bytes] = ..., partners: _Optional[_Iterable[str]] = ..., expiry_seconds: _Optional[int] = ..., reveal_date: _Optional[bool] = ..., reveal_holder: _Optional[bool] = ..., max_checks_per_day: _Optional[int] = ..., created_at: _Optional[str] = ...) -> None: ...

class CreateProgramRequest(_message.Message):
    __slots__ = ("title", "program_public", "partners", "expiry_seconds", "reveal_date", "reveal_holder", "max_checks_per_day")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    PARTNERS_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REVEAL_DATE_FIELD_NUMBER: _ClassVar[int]
    REVEAL_HOLDER_FIELD_NUMBER: _ClassVar[int]
    MAX_CHECKS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    title: str
    program_public: bytes
    partners: _containers.RepeatedScalarFieldContainer[str]
    expiry_seconds: int
    reveal_date: bool
    reveal_holder: bool
    max_checks_per_day: int
    def __init__(self, title: _Optional[str] = ..., program_public: _Optional[bytes] = ..., partners: _Optional[_Iterable[str]] = ..., expiry_seconds: _Optional[int] = ..., reveal_date: _Optional[bool] = ..., reveal_holder: _Optional[bool] = ..., max_checks_per_day: _Optional[int] = ...) -> None: ...

class ListProgramsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProgramList(_message.Message):
    __slots__ = ("programs",)
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    programs: _containers.RepeatedCompositeFieldContainer[Program]
    def __init__(self, programs: _Optional[_Iterable[_Union[Program, _Mapping]]] = ...) -> None: ...

class RequestEvaluationRequest(_message.Message):
    __slots__ = ("program_id", "blinded", "request_id", "signing_public", "signature", "signed_at")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    BLINDED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    blinded: bytes
    request_id: str
    signing_public: bytes
    signature: bytes
    signed_at: str
    def __init__(self, program_id: _Optional[str] = ..., blinded: _Optional[bytes] = ..., request_id: _Optional[str] = ..., signing_public: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., signed_at: _Optional[str] = ...) -> None: ...

class Evaluation(_message.Message):
    __slots__ = ("request_id", "program_id", "partner", "state", "blinded", "evaluated", "proof", "requested_at", "evaluated_at", "signing_public", "signature", "signed_at", "refused")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BLINDED_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    program_id: str
    partner: str
    state: str
    blinded: bytes
    evaluated: bytes
    proof: bytes
    requested_at: str
    evaluated_at: str
    signing_public: bytes
    signature: bytes
    signed_at: str
    refused: str
    def __init__(self, request_id: _Optional[str] = ..., program_id: _Optional[str] = ..., partner: _Optional[str] = ..., state: _Optional[str] = ..., blinded: _Optional[bytes] = ..., evaluated: _Optional[bytes] = ..., proof: _Optional[bytes] = ..., requested_at: _Optional[str] = ..., evaluated_at: _Optional[str] = ..., signing_public: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., signed_at: _Optional[str] = ..., refused: _Optional[str] = ...) -> None: ...

class GetEvaluationRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class PendingEvaluationsRequest(_message.Message):
    __slots__ = ("program_id", "limit")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    limit: int
    def __init__(self, program_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class EvaluationList(_message.Message):
    __slots__ = ("evaluations",)
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    evaluations: _containers.RepeatedCompositeFieldContainer[Evaluation]
    def __init__(self, evaluations: _Optional[_Iterable[_Union[Evaluation, _Mapping]]] = ...) -> None: ...

class PostedEvaluation(_message.Message):
    __slots__ = ("request_id", "evaluated", "proof", "refused")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    evaluated: bytes
    proof: bytes
    refused: str
    def __init__(self, request_id: _Optional[str] = ..., evaluated: _Optional[bytes] = ..., proof: _Optional[bytes] = ..., refused: _Optional[str] = ...) -> None: ...

class PostEvaluationsRequest(_message.Message):
    __slots__ = ("program_id", "evaluations")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    evaluations: _containers.RepeatedCompositeFieldContainer[PostedEvaluation]
    def __init__(self, program_id: _Optional[str] = ..., evaluations: _Optional[_Iterable[_Union[PostedEvaluation, _Mapping]]] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("program_id", "request_id", "token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    request_id: str
    token: bytes
    def __init__(self, program_id: _Optional[str] = ..., request_id: _Optional[str] = ..., token: _Optional[bytes] = ...) -> None: ...

class Registration(_message.Message):
    __slots__ = ("registration_id", "program_id", "partner", "registered_at", "expires_at", "state", "withdrawn_at", "conflict")
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    program_id: str
    partner: str
    registered_at: str
    expires_at: str
    state: str
    withdrawn_at: str
    conflict: bool
    def __init__(self, registration_id: _Optional[str] = ..., program_id: _Optional[str] = ..., partner: _Optional[str] = ..., registered_at: _Optional[str] = ..., expires_at: _Optional[str] = ..., state: _Optional[str] = ..., withdrawn_at: _Optional[str] = ..., conflict: _Optional[bool] = ...) -> None: ...

class RegistrationResult(_message.Message):
    __slots__ = ("registration", "conflict", "other_registered_at", "other_holder")
    REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_FIELD_NUMBER: _ClassVar[int]
    OTHER_REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    OTHER_HOLDER_FIELD_NUMBER: _ClassVar[int]
    registration: Registration
    conflict: bool
    other_registered_at: str
    other_holder: str
    def __init__(self, registration: _Optional[_Union[Registration, _Mapping]] = ..., conflict: _Optional[bool] = ..., other_registered_at: _Optional[str] = ..., other_holder: _Optional[str] = ...) -> None: ...

class ListRegistrationsRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class RegistrationList(_message.Message):
    __slots__ = ("registrations",)
    REGISTRATIONS_FIELD_NUMBER: _ClassVar[int]
    registrations: _containers.RepeatedCompositeFieldContainer[Registration]
    def __init__(self, registrations: _Optional[_Iterable[_Union[Registration, _Mapping]]] = ...) -> None: ...

class WithdrawRequest(_message.Message):
    __slots__ = ("registration_id",)
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    def __init__(self, registration_id: _Optional[str] = ...) -> None: ...

class ConflictsRequest(_message.Message):
    __slots__ = ("program_id", "tokens")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    tokens: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, program_id: _Optional[str] = ..., tokens: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ConflictHolder(_message.Message):
    __slots__ = ("partner", "registration_id", "registered_at", "expires_at")
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    partner: str
    registration_id: str
    registered_at: str
    expires_at: str
    def __init__(self, partner: _Optional[str] = ..., registration_id: _Optional[str] = ..., registered_at: _Optional[str] = ..., expires_at: _Optional[str] = ...) -> None: ...

class Conflict(_message.Message):
    __slots__ = ("token", "holders")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    token: bytes
    holders: _containers.RepeatedCompositeFieldContainer[ConflictHolder]
    def __init__(self, token: _Optional[bytes] = ..., holders: _Optional[_Iterable[_Union[ConflictHolder, _Mapping]]] = ...) -> None: ...

class ConflictList(_message.Message):
    __slots__ = ("labelled", "total_conflicts")
    LABELLED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    labelled: _containers.RepeatedCompositeFieldContainer[Conflict]
    total_conflicts: int
    def __init__(self, labelled: _Optional[_Iterable[_Union[Conflict, _Mapping]]] = ..., total_conflicts: _Optional[int] = ...) -> None: ...
