"""The moderation step's second layer: the serving text classifier scores each whole text.

The classifier (a checkpoint of kind ``classifier`` that passed the quality gate and serves, like the generators'
checkpoints) gives each text the probability of its offensive label. ``classifier_risks.json`` names the risks of
the catalogue that label stands for; the safety thresholds in force (``classifier_block_score_min``,
``classifier_flag_score_min``) turn the score into an action: refuse, or deliver and send for review.

Like the keyword layer, the loaded net is cached in the process: at most every ``check_seconds`` one call asks the
database which checkpoint serves and which configuration version is in force, and loads again only when either
changed. No call does more than that; torch's thread count is set once, when a net is loaded.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

from generation.moderation.errors import ModerationUnavailable
from generation.moderation.verdict import Decision, Direction, Score, Verdict, decision_for
from generation.moderation.versioned import VersionChecked

logger = logging.getLogger(__name__)

RISKS_PATH = Path(__file__).resolve().parent / "classifier_risks.json"


class ClassifierUnavailable(ModerationUnavailable):
    """No classifier checkpoint serves, or it cannot be loaded; the message says which."""


@cache
def label_risks() -> dict[str, tuple[str, ...]]:
    """The risk codes each label of the classifier stands for (``classifier_risks.json``)."""
    data = json.loads(RISKS_PATH.read_text(encoding="utf-8"))
    return {label: tuple(codes) for label, codes in data["labels"].items()}


@dataclass(frozen=True)
class LoadedClassifier:
    """A serving classifier with the thresholds it is judged by; ``version`` is what the cheap check compares."""

    version: tuple[str, int]  # the checkpoint's SHA-256 and the safety configuration version
    model: str  # the checkpoint's SHA-256, shortened, as verdicts name it
    scorer: Any  # generation.ml.scoring.TextScorer
    risk_codes: tuple[str, ...]
    block_at: float
    flag_at: float

    def score(self, text: str) -> float:
        return float(self.scorer.score(text))


def _serving_version() -> tuple[str, int]:
    """The SHA-256 of the classifier checkpoint serving ("" if none) and the safety configuration version."""
    from filing.safety.selectors import safety_config_version_current
    from generation.models import Checkpoint, NetKind

    sha256 = Checkpoint.objects.filter(kind=NetKind.CLASSIFIER, is_active=True).values_list("sha256", flat=True).first()
    return sha256 or "", safety_config_version_current().number


def _classifier_load(version: tuple[str, int], previous: LoadedClassifier | None) -> LoadedClassifier:
    """Load the serving checkpoint (or keep ``previous``'s net when it is the same) and the thresholds in force."""
    from filing.safety.selectors import safety_config
    from generation.models import Checkpoint

    sha256, _config_version = version
    if not sha256:
        raise ClassifierUnavailable("no classifier checkpoint serves")
    if previous is not None and previous.version[0] == sha256:
        scorer = previous.scorer
    else:
        from generation.ml.runtime import torch_threads_set
        from generation.ml.scoring import TextScorer

        checkpoint = Checkpoint.objects.get(sha256=sha256)
        with checkpoint.file.open("rb") as f:
            scorer = TextScorer(f.read(), sha256=sha256)
        # Once per load, never per call: the process's deliberate thread count (1 by default).
        torch_threads_set(settings.GENAI_TORCH_THREADS)
    config = safety_config()
    risks = label_risks().get(scorer.labels[-1])
    if not risks:
        raise ClassifierUnavailable(f"the label {scorer.labels[-1]!r} stands for no risk in {RISKS_PATH.name}")
    return LoadedClassifier(
        version=(sha256, config.version),
        model=sha256[:12],
        scorer=scorer,
        risk_codes=risks,
        block_at=float(config.classifier_block_score_min),
        flag_at=float(config.classifier_flag_score_min),
    )


class ClassifierModerator(VersionChecked[tuple[str, int]]):
    """Scores every text with the serving classifier; refuses or flags it when the score crosses a threshold."""

    name = "classifier"

    def __init__(
        self,
        *,
        check_seconds: float | None = None,
        version_loader: Callable[[], tuple[str, int]] = _serving_version,
        classifier_loader: Callable[[tuple[str, int], LoadedClassifier | None], LoadedClassifier] = _classifier_load,
    ) -> None:
        super().__init__(check_seconds=check_seconds, version_loader=version_loader)
        self._classifier_loader = classifier_loader
        self._loaded: LoadedClassifier | None = None
        self._unavailable = "not loaded yet"

    def classifier(self) -> LoadedClassifier:
        """The classifier in force; raises ClassifierUnavailable when none could be loaded."""
        current = self._loaded
        if not self._due():
            if current is None:
                raise ClassifierUnavailable(self._unavailable)
            return current
        with self._lock:
            if self._due():
                self._check()
            if self._loaded is None:
                raise ClassifierUnavailable(self._unavailable)
            return self._loaded

    def _check(self) -> None:
        try:
            version = self._version_loader()
        except Exception as exc:
            # Keep serving with the net we have (if any); try again at the next check.
            logger.warning("moderation.classifier_version_check_failed error=%s", exc)
            self._unavailable = f"the serving classifier could not be looked up ({exc})"
        else:
            if self._loaded is None or self._loaded.version != version:
                try:
                    self._loaded = self._classifier_loader(version, self._loaded)
                    logger.info(
                        "moderation.classifier_loaded model=%s config_version=%s block_at=%s flag_at=%s",
                        self._loaded.model,
                        self._loaded.version[1],
                        self._loaded.block_at,
                        self._loaded.flag_at,
                    )
                except Exception as exc:
                    if not version[0]:
                        self._loaded = None  # nothing serves any more: the layer stands aside
                    self._unavailable = str(exc)
                    logger.warning("moderation.classifier_unavailable reason=%s", exc)
        self._checked_at = time.monotonic()

    def moderate(self, text: str, *, direction: Direction) -> Verdict:
        started = time.perf_counter()
        loaded = self.classifier()
        score = loaded.score(text)
        if score >= loaded.block_at:
            action, threshold = Decision.BLOCK.value, loaded.block_at
        else:
            action, threshold = Decision.FLAG.value, loaded.flag_at
        scores = tuple(
            Score(risk_code=code, score=score, threshold=threshold, action=action, model=loaded.model)
            for code in loaded.risk_codes
        )
        crossed = [s for s in scores if s.crossed]
        return Verdict(
            decision=decision_for({s.action for s in crossed}),
            direction=direction,
            risk_codes=tuple(sorted({s.risk_code for s in crossed})),
            spans=(),
            library_version=0,
            latency_ms=(time.perf_counter() - started) * 1000,
            moderator=self.name,
            scores=scores,
        )
