"""Match keys: the canonical forms both parties compute from their own rows."""

from cleanroom_client.inputs.keys.domain import DomainRejected, canonical_domain
from cleanroom_client.inputs.keys.names import canonical_country, name_key

__all__ = ["DomainRejected", "canonical_country", "canonical_domain", "name_key"]
