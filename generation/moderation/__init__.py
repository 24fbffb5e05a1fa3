"""The safety pipeline's moderation step: normalisation, keyword automaton, verdicts.

Two layers: the keyword library (``moderators``) and the text classifier (``classifier``).
Entry points for the job service: ``moderate_input(text)`` before a job is queued and
``moderate_output(text)`` before generated text is shown or stored; ``refusal_message(verdict)``
for what the user is told. This package may read ``filing``; ``filing`` never imports it.
"""

from generation.moderation.classifier import ClassifierModerator, ClassifierUnavailable
from generation.moderation.messages import refusal_message
from generation.moderation.moderators import (
    CompositeModerator,
    KeywordModerator,
    ModerationUnavailable,
    Moderator,
    default_moderator,
    default_moderator_set,
    moderate_input,
    moderate_output,
    verdict_audit_facts,
)
from generation.moderation.verdict import Decision, Direction, Score, Span, Verdict

__all__ = [
    "ClassifierModerator",
    "ClassifierUnavailable",
    "CompositeModerator",
    "Decision",
    "Direction",
    "KeywordModerator",
    "ModerationUnavailable",
    "Moderator",
    "Score",
    "Span",
    "Verdict",
    "default_moderator",
    "default_moderator_set",
    "moderate_input",
    "moderate_output",
    "refusal_message",
    "verdict_audit_facts",
]
