"""What the user is told when moderation refuses: plain words and the category, never the keywords."""

from __future__ import annotations

from functools import cache

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from generation.moderation.verdict import Direction, Verdict


@cache
def _risk_names() -> dict[str, tuple[str, str]]:
    # The taxonomy is shipped data that never changes while a process runs.
    from filing.models import Risk

    return {code: (zh, en) for code, zh, en in Risk.objects.values_list("code", "name_zh", "name_en")}


def risk_label(code: str) -> str:
    names = _risk_names().get(code)
    if names is None:
        return code
    zh = (get_language() or "zh-hans").lower().startswith("zh")
    return f"{names[0] if zh else names[1]} ({code})"


def refusal_message(verdict: Verdict) -> str:
    """One or two sentences naming the refused categories. The matched words are never repeated."""
    categories = "; ".join(risk_label(code) for code in verdict.risk_codes) or _("content not allowed")
    if verdict.direction == Direction.OUTPUT:
        return _("The generated text was withheld because it touched on content in this category: %(categories)s.") % {
            "categories": categories
        }
    return _(
        "Your request was refused because it touches on content in this category: %(categories)s. "
        "Please rephrase it and try again."
    ) % {"categories": categories}
