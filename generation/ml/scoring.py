"""The moderation classifier as the moderation step uses it: a checkpoint loaded once, scoring one text at a time."""

from __future__ import annotations

from generation.ml.checkpoints import checkpoint_loads
from generation.ml.nets.textclf import TextClassifier


class TextScorer:
    """The serving classifier's probability of its last (offensive) label for a text."""

    def __init__(self, data: bytes, *, sha256: str) -> None:
        loaded = checkpoint_loads(data, expected_sha256=sha256)
        if not isinstance(loaded.net, TextClassifier):
            raise ValueError(f"Checkpoint {sha256[:12]} is a {loaded.kind} net, not a text classifier.")
        self.net = loaded.net
        self.labels: tuple[str, ...] = loaded.net.config.labels

    def score(self, text: str) -> float:
        return float(self.net.probabilities([text])[0, -1])
