"""What the filing's services share: the refusal they raise, the name of who acted, rounding of rates."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any


class FilingError(Exception):
    """A filing action was refused; the message says why, for the operator."""


def actor_name(actor: Any) -> str:
    if actor is None:
        return "system"
    return actor.get_username() if hasattr(actor, "get_username") else str(actor)


def ratio(part: int, whole: int) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
