"""Training data through the moderation layers (TC260-003 §5.2 a), §9.2 b)): keywords and the classifier.

Each item is moderated as the net's own output would be, by the process-wide moderator, and the outcome is
kept per layer: the keyword layer's decision and hits, the classifier layer's decision and scores. The flags
are advice to the reviewers of a source safety check and the counts of the corpus technical check; a layer
passes an item only when its own decision is ALLOW (a FLAG fails, as a BLOCK does), as in the assessment runs.

Registered with ``filing`` when the app starts (``dataset_item_screener_register``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from generation import moderation
from generation.dataset_items import dataset_text_kind

# The names the moderation layers give themselves in a verdict (``Verdict.layers``).
KEYWORD_LAYER = "keyword"
CLASSIFIER_LAYER = "classifier"


def text_screen(text: str) -> dict[str, Any]:
    """Both layers' flags on one text, JSON-ready. Offsets, codes and scores only: never a keyword's text.

    Keys: ``decision`` (the combined one), ``layers`` ({layer: decision}), ``keyword`` (its decision and
    ``hits``: start, end, risk code, action), ``classifier`` (its decision and ``scores``: risk code, score,
    threshold, crossed, action, model; None when no classifier takes part), ``library_version``.
    """
    verdict = moderation.default_moderator().moderate(text, direction=moderation.Direction.OUTPUT)
    keyword = verdict.layer_decision(KEYWORD_LAYER)
    classifier = verdict.layer_decision(CLASSIFIER_LAYER)
    return {
        "decision": verdict.decision.value,
        "layers": verdict.as_dict()["layers"],
        "keyword": None
        if keyword is None
        else {
            "decision": keyword.value,
            "hits": [
                {"start": s.start, "end": s.end, "risk_code": s.risk_code, "action": s.action}
                for s in verdict.spans
                if s.keyword_id is not None
            ],
        },
        "classifier": None
        if classifier is None
        else {
            "decision": classifier.value,
            "scores": [
                {
                    "risk_code": s.risk_code,
                    "score": round(s.score, 4),
                    "threshold": s.threshold,
                    "crossed": s.crossed,
                    "action": s.action,
                    "model": s.model,
                }
                for s in sorted(verdict.scores, key=lambda s: -s.score)
            ],
        },
        "library_version": verdict.library_version,
    }


def dataset_items_screen(dataset: Any, excerpts: dict[int, str]) -> dict[int, dict[str, Any]] | None:
    """The flags of each excerpt of a text data set; None for a data set whose items are not text (digits).

    When no keyword library can be loaded each item says why it was not screened, so the reviewer is not
    told it passed.
    """
    if not excerpts or dataset_text_kind(dataset) != "text":
        return None
    try:
        return {index: text_screen(text) for index, text in excerpts.items()}
    except moderation.ModerationUnavailable:
        reason = _("Not screened: the keyword library could not be loaded.")
        return {index: {"error": reason} for index in excerpts}
