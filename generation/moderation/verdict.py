"""What a moderation step decides about one text."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Decision(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    FLAG = "flag"  # delivered, but marked for an operator's review


class Direction(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class Span:
    """A matched stretch of the ORIGINAL text, ``text[start:end]``, and what it matched."""

    start: int
    end: int
    risk_code: str
    action: str
    keyword_id: int | None = None


@dataclass(frozen=True)
class Score:
    """A classifier's score of the whole text for one risk, the threshold it was judged by, and the outcome."""

    risk_code: str
    score: float
    threshold: float
    action: str  # what crossing the threshold does: "block" or "flag"
    model: str  # the classifier's version (its checkpoint's SHA-256, shortened)

    @property
    def crossed(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    direction: Direction
    risk_codes: tuple[str, ...]
    spans: tuple[Span, ...]
    library_version: int
    latency_ms: float
    moderator: str
    scores: tuple[Score, ...] = ()
    # The decision of each layer that took part, by the layer's name ("keyword", "classifier").
    layers: tuple[tuple[str, Decision], ...] = ()

    def layer_decision(self, name: str) -> Decision | None:
        """What the layer ``name`` decided on its own (None: it did not take part)."""
        for layer, decision in self.layers or ((self.moderator, self.decision),):
            if layer == name:
                return decision
        return None

    @property
    def blocked(self) -> bool:
        return self.decision == Decision.BLOCK

    @property
    def flagged(self) -> bool:
        return self.decision == Decision.FLAG

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for job rows and audit events. Holds offsets and ids, never the keyword text."""
        return {
            "decision": self.decision.value,
            "direction": self.direction.value,
            "risk_codes": list(self.risk_codes),
            "spans": [
                {
                    "start": s.start,
                    "end": s.end,
                    "risk_code": s.risk_code,
                    "action": s.action,
                    "keyword_id": s.keyword_id,
                }
                for s in self.spans
            ],
            "library_version": self.library_version,
            "latency_ms": round(self.latency_ms, 3),
            "moderator": self.moderator,
            "scores": [
                {
                    "risk_code": s.risk_code,
                    "score": round(s.score, 4),
                    "threshold": s.threshold,
                    "action": s.action,
                    "model": s.model,
                }
                for s in self.scores
            ],
            "layers": {name: decision.value for name, decision in self.layers or ((self.moderator, self.decision),)},
        }


def decision_for(actions: set[str]) -> Decision:
    if Decision.BLOCK.value in actions:
        return Decision.BLOCK
    if Decision.FLAG.value in actions:
        return Decision.FLAG
    return Decision.ALLOW
