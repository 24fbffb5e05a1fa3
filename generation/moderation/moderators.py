"""The moderation step as an interface, and its keyword implementation.

Callers use ``moderate_input`` / ``moderate_output`` (or a ``Moderator``) and read a ``Verdict``;
they never see how it was reached. The default moderator combines two layers through
``CompositeModerator``: the keyword library, which must load (else moderation is unavailable and
nothing is generated), and the text classifier (``generation.moderation.classifier``), which stands
aside with a logged warning while no classifier can be loaded, leaving the keyword layer to decide.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from generation.moderation.classifier import ClassifierModerator
from generation.moderation.errors import ModerationUnavailable
from generation.moderation.matcher import KeywordEntry, KeywordMatcher
from generation.moderation.verdict import Decision, Direction, Span, Verdict, decision_for
from generation.moderation.versioned import VersionChecked

logger = logging.getLogger(__name__)


@runtime_checkable
class Moderator(Protocol):
    name: str

    def moderate(self, text: str, *, direction: Direction) -> Verdict: ...


def _library_version() -> int:
    from filing.safety.selectors import keyword_library_version_current

    return keyword_library_version_current()


def _library_matcher() -> KeywordMatcher:
    from filing.safety.selectors import keyword_library_snapshot

    snapshot = keyword_library_snapshot()
    return KeywordMatcher(
        version=snapshot.version,
        entries=[KeywordEntry(e.id, e.keyword, e.risk_code, e.action) for e in snapshot.keywords],
        allowlist=snapshot.allowlist,
    )


class KeywordModerator(VersionChecked[int]):
    """Matches the keyword library in force, rebuilding its automaton when the library version changes.

    The automaton is cached in the process. At most every ``check_seconds`` a call asks the
    database for the current version number (one indexed query); when it differs the automaton is
    rebuilt, so every web and worker process picks a change up within that many seconds without a
    restart. While a rebuild runs, other threads keep using the previous automaton.
    """

    name = "keyword"

    def __init__(
        self,
        *,
        check_seconds: float | None = None,
        version_loader: Callable[[], int] = _library_version,
        matcher_loader: Callable[[], KeywordMatcher] = _library_matcher,
    ) -> None:
        super().__init__(check_seconds=check_seconds, version_loader=version_loader)
        self._matcher_loader = matcher_loader
        self._matcher: KeywordMatcher | None = None

    def matcher(self) -> KeywordMatcher:
        current = self._matcher
        if current is not None and not self._due():
            return current
        with self._lock:
            if self._matcher is not None and not self._due():
                return self._matcher
            try:
                version = self._version_loader()
                if self._matcher is None or self._matcher.version != version:
                    self._matcher = self._matcher_loader()
                    logger.info(
                        "moderation.automaton_built version=%s keywords=%s allowlist=%s seconds=%.3f",
                        self._matcher.version,
                        self._matcher.keyword_count,
                        self._matcher.allowlist_count,
                        self._matcher.build_seconds,
                    )
                self._checked_at = time.monotonic()
            except Exception as exc:
                if self._matcher is None:
                    raise ModerationUnavailable("the keyword library could not be loaded") from exc
                # Keep serving with the automaton we have; try again at the next check.
                logger.warning("moderation.version_check_failed error=%s", exc)
                self._checked_at = time.monotonic()
            return self._matcher

    def moderate(self, text: str, *, direction: Direction) -> Verdict:
        started = time.perf_counter()
        matcher = self.matcher()
        hits = matcher.find(text)
        spans = tuple(
            Span(start=h.start, end=h.end, risk_code=h.entry.risk_code, action=h.entry.action, keyword_id=h.entry.id)
            for h in sorted(hits, key=lambda h: (h.start, h.end, h.entry.id))
        )
        return Verdict(
            decision=decision_for({s.action for s in spans}),
            direction=direction,
            risk_codes=tuple(sorted({s.risk_code for s in spans})),
            spans=spans,
            library_version=matcher.version,
            latency_ms=(time.perf_counter() - started) * 1000,
            moderator=self.name,
        )


class CompositeModerator:
    """Runs several moderators; the strictest decision wins and their findings are merged.

    A moderator named in ``optional`` that raises ModerationUnavailable stands aside (it logs why itself) and
    the others decide; any other that raises it makes the whole step unavailable, as does having none left.
    """

    name = "composite"

    def __init__(self, moderators: Sequence[Moderator], *, optional: Sequence[str] = ()) -> None:
        if not moderators:
            raise ValueError("CompositeModerator needs at least one moderator")
        self.moderators = tuple(moderators)
        self.optional = frozenset(optional)

    def moderate(self, text: str, *, direction: Direction) -> Verdict:
        started = time.perf_counter()
        verdicts = []
        for moderator in self.moderators:
            try:
                verdicts.append(moderator.moderate(text, direction=direction))
            except ModerationUnavailable:
                if moderator.name not in self.optional:
                    raise
        if not verdicts:
            raise ModerationUnavailable("no moderation layer could be loaded")
        decisions = {v.decision.value for v in verdicts}
        return Verdict(
            decision=decision_for(decisions),
            direction=direction,
            risk_codes=tuple(sorted({code for v in verdicts for code in v.risk_codes})),
            spans=tuple(sorted((s for v in verdicts for s in v.spans), key=lambda s: (s.start, s.end))),
            library_version=max(v.library_version for v in verdicts),
            latency_ms=(time.perf_counter() - started) * 1000,
            moderator="+".join(v.moderator for v in verdicts),
            scores=tuple(s for v in verdicts for s in v.scores),
            layers=tuple(layer for v in verdicts for layer in (v.layers or ((v.moderator, v.decision),))),
        )


_default: Moderator | None = None
_default_lock = threading.Lock()


def default_moderator() -> Moderator:
    """The process-wide moderator the entry points use: the keyword library, then the text classifier."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = CompositeModerator(
                    [KeywordModerator(), ClassifierModerator()], optional=(ClassifierModerator.name,)
                )
    return _default


def default_moderator_set(moderator: Moderator | None) -> None:
    """Replace the process-wide moderator (None: back to a fresh default moderator on next use)."""
    global _default
    with _default_lock:
        _default = moderator


def verdict_audit_facts(verdict: Verdict) -> dict[str, object]:
    """What an audit record of a moderation decision carries beside its risk codes and library version: each
    layer's own decision, and the classifier's scores with its version (the checkpoint it used)."""
    stored = verdict.as_dict()
    return {"layers": stored["layers"], "scores": stored["scores"]}


def moderate_input(text: str) -> Verdict:
    """Moderate a user's prompt before a job is queued. Raises ``ModerationUnavailable`` if no library loads."""
    return default_moderator().moderate(text, direction=Direction.INPUT)


def moderate_output(text: str) -> Verdict:
    """Moderate generated text before it is shown or stored as deliverable."""
    return default_moderator().moderate(text, direction=Direction.OUTPUT)


__all__ = [
    "CompositeModerator",
    "Decision",
    "KeywordModerator",
    "ModerationUnavailable",
    "Moderator",
    "default_moderator",
    "default_moderator_set",
    "moderate_input",
    "moderate_output",
    "verdict_audit_facts",
]
