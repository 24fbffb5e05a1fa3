"""The catalogue of audit event types and the payload each one carries.

Every record of the log has a dotted ``event_type`` taken from ``EVENT_TYPES`` below. The columns
common to all records (actor, source address, subject, filing number, model record, checkpoint,
keyword library version, moderation decision, risk codes, ProduceID, input/output digests) are
described on ``audit.models.LogEntry``; what is specific to one event type goes in its JSON
payload, whose keys are declared in this package: one module by area (``generation``, ``filing``,
``accounts``, ``log``), with the form of a declaration in ``schema``.

A payload key is declared with its JSON type, whether it is required, and whether it can hold
personal information (``pi=True``): a pseudonymised export replaces such values with a keyed
hash. Keys not declared are accepted and kept, but should be added here so that auditors know
what they mean.
"""

from audit.catalogue.accounts import ACCOUNT_EVENTS
from audit.catalogue.filing import FILING_EVENTS
from audit.catalogue.generation import GENERATION_EVENTS
from audit.catalogue.log import LOG_EVENTS
from audit.catalogue.schema import EventType, PayloadError, PayloadKey, payload_validate

__all__ = [
    "EVENT_TYPES",
    "FAMILIES",
    "EventType",
    "PayloadError",
    "PayloadKey",
    "event_type_get",
    "payload_validate",
    "pi_keys",
    "pi_keys_all",
]

_CATALOGUE: tuple[EventType, ...] = (*GENERATION_EVENTS, *FILING_EVENTS, *ACCOUNT_EVENTS, *LOG_EVENTS)

EVENT_TYPES: dict[str, EventType] = {event.name: event for event in _CATALOGUE}
FAMILIES: frozenset[str] = frozenset(event.family for event in _CATALOGUE)


def event_type_get(name: str) -> EventType:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise PayloadError(f"unknown audit event type {name!r}; see audit.catalogue.EVENT_TYPES") from None


_PI_KEYS: dict[str, frozenset[str]] = {
    event.name: frozenset(name for name, key in event.payload.items() if key.pi) for event in _CATALOGUE
}


def pi_keys_all() -> dict[str, frozenset[str]]:
    return dict(_PI_KEYS)


def pi_keys(event_type: str) -> frozenset[str]:
    """Payload keys that may hold personal information, for pseudonymised exports."""
    return _PI_KEYS.get(event_type, frozenset())
