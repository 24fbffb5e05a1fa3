"""A synthetic demo library, so a fresh install has something to moderate against.

Every entry is marked: origin "demo", a note saying it is synthetic, and keywords that start with
演示 ("demo"). The coverage view warns while any demo entry is in the library. Real libraries are
imported by operators.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from filing.safety.models import AllowlistPhrase, Keyword, KeywordLibraryVersion, Origin, Risk, match_key
from filing.safety.selectors import safety_config
from filing.safety.services import keyword_library_version_bump

DEMO_NOTE = "演示数据（合成），不是真实关键词 / synthetic demo entry, not a real keyword"
# A few readable entries, so a person trying the service can see a refusal, a flag and the allowlist.
DEMO_READABLE: tuple[tuple[str, str, str], ...] = (
    ("演示违禁词", "A.1.8", Keyword.Action.BLOCK),
    ("演示暴力词", "A.1.6", Keyword.Action.BLOCK),
    ("演示歧视词", "A.2.9", Keyword.Action.BLOCK),
    ("演示复核词", "A.4.1", Keyword.Action.FLAG),
)
DEMO_ALLOWLIST = ("演示违禁词汇表说明",)


@dataclass(frozen=True)
class DemoResult:
    keywords: int
    allowlist: int
    version: KeywordLibraryVersion


def demo_keyword(risk_code: str, serial: int) -> str:
    return f"演示关键词{risk_code}-{serial:05d}"


@transaction.atomic
def keyword_library_demo_create(*, actor: str, size: int | None = None) -> DemoResult:
    """Replace the demo entries with a fresh synthetic library of ``size`` keywords (default: the configured minimum).

    When ``size`` allows, each A.1/A.2 risk gets its configured minimum and the rest is spread over
    all 31 risks; a smaller ``size`` is spread evenly.
    Entries that are not demo entries are left alone.
    """
    config = safety_config()
    total = size if size is not None else config.keyword_library_min_total
    risks = list(Risk.objects.order_by("position").values_list("code", flat=True))
    budget = max(0, total - len(DEMO_READABLE))
    per_risk = {code: config.keyword_minimum_for(code) for code in risks}
    if budget < sum(per_risk.values()):
        # Too small to meet the minimums (a test or a quick try): spread evenly instead.
        per_risk = dict.fromkeys(risks, 0)
    remaining = budget - sum(per_risk.values())
    for index, code in enumerate(risks):
        per_risk[code] += remaining // len(risks) + (1 if index < remaining % len(risks) else 0)

    Keyword.objects.filter(origin=Origin.DEMO).delete()
    AllowlistPhrase.objects.filter(origin=Origin.DEMO).delete()
    taken = set(Keyword.objects.values_list("key", flat=True))
    entries = [
        Keyword(keyword=word, key=match_key(word), risk_id=code, action=action, notes=DEMO_NOTE, origin=Origin.DEMO)
        for word, code, action in DEMO_READABLE
        if match_key(word) not in taken
    ]
    for code, count in per_risk.items():
        for serial in range(1, count + 1):
            word = demo_keyword(code, serial)
            if match_key(word) in taken:
                continue
            entries.append(
                Keyword(keyword=word, key=match_key(word), risk_id=code, notes=DEMO_NOTE, origin=Origin.DEMO)
            )
    Keyword.objects.bulk_create(entries, batch_size=2000)
    phrases = [
        AllowlistPhrase(phrase=p, key=match_key(p), notes=DEMO_NOTE, origin=Origin.DEMO)
        for p in DEMO_ALLOWLIST
        if not AllowlistPhrase.objects.filter(key=match_key(p)).exists()
    ]
    AllowlistPhrase.objects.bulk_create(phrases)
    version = keyword_library_version_bump(
        actor=actor, reason=_("Synthetic demo library created (%(n)d keywords).") % {"n": len(entries)}
    )
    return DemoResult(keywords=len(entries), allowlist=len(phrases), version=version)


@transaction.atomic
def keyword_library_demo_remove(*, actor: str) -> KeywordLibraryVersion | None:
    deleted, _detail = Keyword.objects.filter(origin=Origin.DEMO).delete()
    deleted_phrases, _detail = AllowlistPhrase.objects.filter(origin=Origin.DEMO).delete()
    if not deleted and not deleted_phrases:
        return None
    return keyword_library_version_bump(actor=actor, reason=_("Synthetic demo library removed."))
