from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollRequest(_message.Message):
    __slots__ = ("invitation", "csr_pem")
    INVITATION_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    invitation: str
    csr_pem: bytes
    def __init__(self, invitation: _Optional[str] = ..., csr_pem: _Optional[bytes] = ...) -> None: ...

class RenewRequest(_message.Message):
    __slots__ = ("csr_pem",)
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    csr_pem: bytes
    def __init__(self, csr_pem: _Optional[bytes] = ...) -> None: ...

class IssuedCertificate(_message.Message):
    __slots__ = ("party", "certificate_pem", "serial", "not_after", "coordinator_signing_public", "coordinator_address")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_SIGNING_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    party: str
    certificate_pem: bytes
    serial: str
    not_after: str
    coordinator_signing_public: bytes
    coordinator_address: str
    def __init__(self, party: _Optional[str] = ..., certificate_pem: _Optional[bytes] = ..., serial: _Optional[str] = ..., not_after: _Optional[str] = ..., coordinator_signing_public: _Optional[bytes] = ..., coordinator_address: _Optional[str] = ...) -> None: ...
