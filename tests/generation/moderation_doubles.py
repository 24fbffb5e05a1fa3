"""A stand-in for the classifier layer: scores a text by whether it holds a marker, so a test knows each verdict."""

from __future__ import annotations

from generation.moderation import CompositeModerator, Decision, Direction, KeywordModerator, Score, Verdict

MODEL = "double01"


class MarkerClassifier:
    """Scores 0.9 for ``risk_code`` when ``marker`` is in the text, else 0.1, against a threshold of 0.5.

    ``directions`` are the ones it judges; it lets the others through (a score of 0.0), so a test can keep
    questions from being refused at input while the answers are judged.
    """

    name = "classifier"
    threshold = 0.5

    def __init__(
        self,
        marker: str,
        *,
        action: str = "flag",
        risk_code: str = "A.2.1",
        directions: tuple[Direction, ...] = (Direction.INPUT, Direction.OUTPUT),
    ) -> None:
        self.marker = marker
        self.action = action
        self.risk_code = risk_code
        self.directions = directions

    def moderate(self, text: str, *, direction: Direction) -> Verdict:
        if direction not in self.directions:
            value = 0.0
        else:
            value = 0.9 if self.marker in text else 0.1
        score = Score(risk_code=self.risk_code, score=value, threshold=self.threshold, action=self.action, model=MODEL)
        return Verdict(
            decision=Decision(self.action) if score.crossed else Decision.ALLOW,
            direction=direction,
            risk_codes=(self.risk_code,) if score.crossed else (),
            spans=(),
            library_version=0,
            latency_ms=0.0,
            moderator=self.name,
            scores=(score,),
        )


def keyword_and_marker(marker: str, **kwargs: object) -> CompositeModerator:
    """The two layers as the platform combines them: the keyword library, then the stand-in classifier."""
    return CompositeModerator([KeywordModerator(check_seconds=0), MarkerClassifier(marker, **kwargs)])  # type: ignore[arg-type]
