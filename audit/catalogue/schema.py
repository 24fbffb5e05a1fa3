"""How the catalogue declares an event type and its payload keys, and the check of a payload against them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# JSON types a payload value may have, by the name used in the catalogue.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True)
class PayloadKey:
    type: str
    description: str
    required: bool = False
    pi: bool = False


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    payload: dict[str, PayloadKey] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


def payload_key(type_: str, description: str, *, required: bool = False, pi: bool = False) -> PayloadKey:
    return PayloadKey(type=type_, description=description, required=required, pi=pi)


class PayloadError(ValueError):
    """The event type is unknown or the payload does not match its declared schema."""


def payload_validate(event: EventType, payload: dict[str, Any]) -> None:
    """Raise ``PayloadError`` naming the first key that is missing or of the wrong type."""
    if not isinstance(payload, dict):
        raise PayloadError(f"{event.name}: payload must be a dict, not {type(payload).__name__}")
    for name, key in event.payload.items():
        if name not in payload or payload[name] is None:
            if key.required:
                raise PayloadError(f"{event.name}: payload key {name!r} is required ({key.description})")
            continue
        value = payload[name]
        accepted = _JSON_TYPES[key.type]
        if isinstance(value, bool) and key.type in ("integer", "number"):
            raise PayloadError(f"{event.name}: payload key {name!r} must be a {key.type}, not a boolean")
        if not isinstance(value, accepted):
            raise PayloadError(f"{event.name}: payload key {name!r} must be a {key.type}, not {type(value).__name__}")


# A key several areas declare alike: what happened to a record whose changes the event lists.
CHANGE_ACTION = payload_key("string", "created, changed or deleted.", required=True)
