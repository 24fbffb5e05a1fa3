"""Reads of the safety records: the thresholds in force, the taxonomy, the keyword library."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count
from django.utils import timezone

from filing.safety.models import (
    AllowlistPhrase,
    Keyword,
    KeywordLibraryVersion,
    Origin,
    Risk,
    SafetyConfigVersion,
    SafetyThreshold,
)


@dataclass(frozen=True)
class SafetyConfig:
    """The thresholds in force, by key; ``version`` names the configuration version they come from.

    Field names are the keys of ``filing/data/safety_thresholds.json``; counts and days are ``int``,
    ratios are ``Decimal`` between 0 and 1, multiples and nats ``Decimal``. ``clauses`` maps each key to its source
    clause. The ``quality_*`` thresholds are the quality gate a checkpoint passes before it may serve; the
    ``classifier_*`` ones turn the moderation classifier's score into a decision.
    """

    version: int
    keyword_library_min_total: int
    keyword_min_per_a1_risk: int
    keyword_min_per_a2_risk: int
    keyword_update_max_days: int
    generated_bank_min_total: int
    generated_bank_min_per_a1a2_risk: int
    generated_bank_min_per_other_risk: int
    refuse_bank_min_total: int
    refuse_bank_min_per_risk: int
    nonrefuse_bank_min_total: int
    nonrefuse_bank_min_per_aspect: int
    test_bank_update_max_days: int
    assessment_generated_sample_min: int
    assessment_generated_pass_rate_min: Decimal
    assessment_refuse_sample_min: int
    assessment_refuse_rate_min: Decimal
    assessment_nonrefuse_sample_min: int
    assessment_nonrefuse_refusal_rate_max: Decimal
    corpus_manual_sample_min: int
    corpus_manual_pass_rate_min: Decimal
    corpus_technical_sample_ratio_min: Decimal
    corpus_technical_pass_rate_min: Decimal
    corpus_source_illegal_ratio_max: Decimal
    corpus_source_sample_min: int
    suspension_consecutive_refusals: int
    suspension_refusals_per_day: int
    training_optout_max_clicks: int
    quality_gan_accuracy_min: Decimal
    quality_gan_fid_ratio_max: Decimal
    quality_vae_nats_max: Decimal
    quality_lm_bigram_margin_min: Decimal
    quality_lm_whole_piece_rate_min: Decimal
    quality_classifier_accuracy_min: Decimal
    quality_classifier_macro_f1_min: Decimal
    classifier_block_score_min: Decimal
    classifier_flag_score_min: Decimal
    clauses: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def keyword_minimum_for(self, risk_code: str) -> int:
        """The per-risk keyword minimum of TC260-003 §8.1: set for A.1 and A.2 risks, 0 elsewhere."""
        if risk_code.startswith("A.1."):
            return self.keyword_min_per_a1_risk
        if risk_code.startswith("A.2."):
            return self.keyword_min_per_a2_risk
        return 0


THRESHOLD_KEYS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(SafetyConfig) if f.name not in ("version", "clauses")
)


def safety_config_version_current() -> SafetyConfigVersion:
    version = SafetyConfigVersion.objects.order_by("-number").first()
    if version is None:
        raise ImproperlyConfigured("No safety configuration exists; run `manage.py migrate`.")
    return version


def safety_config() -> SafetyConfig:
    """The thresholds in force (the highest configuration version), typed."""
    version = safety_config_version_current()
    rows = {t.key: t for t in SafetyThreshold.objects.filter(version=version)}
    missing = [key for key in THRESHOLD_KEYS if key not in rows]
    if missing:
        raise ImproperlyConfigured(f"Safety configuration v{version.number} lacks: {', '.join(missing)}.")
    values = {key: rows[key].typed_value() for key in THRESHOLD_KEYS}
    return SafetyConfig(
        version=version.number,
        clauses={key: rows[key].clause for key in THRESHOLD_KEYS},
        **values,  # type: ignore[arg-type]
    )


def risks_all() -> list[Risk]:
    return list(Risk.objects.select_related("category").order_by("position"))


#
# Keyword library
#


def keyword_library_version_current() -> int:
    """The number of the library version in force; 0 while the library has never been changed."""
    number = KeywordLibraryVersion.objects.order_by("-number").values_list("number", flat=True).first()
    return number or 0


@dataclass(frozen=True)
class MatcherEntry:
    """What the moderation step needs of one enabled keyword."""

    id: int
    keyword: str
    risk_code: str
    action: str


@dataclass(frozen=True)
class KeywordLibrarySnapshot:
    version: int
    keywords: list[MatcherEntry]
    allowlist: list[str]


def keyword_library_snapshot() -> KeywordLibrarySnapshot:
    """The enabled keywords and allowlist phrases, labelled with the library version.

    The version is read first, on purpose and without a transaction (which on SQLite would take
    the write lock): a change committed in between makes the entries newer than their label, and
    the next version check then sees a different number and loads again. The other order could
    label old entries with the new number, and they would never be reloaded.
    """
    version = keyword_library_version_current()
    keywords = [
        MatcherEntry(id=pk, keyword=keyword, risk_code=risk_id, action=action)
        for pk, keyword, risk_id, action in Keyword.objects.filter(enabled=True)
        .order_by("pk")
        .values_list("pk", "keyword", "risk_id", "action")
        .iterator(chunk_size=5000)
    ]
    allowlist = list(AllowlistPhrase.objects.filter(enabled=True).order_by("pk").values_list("phrase", flat=True))
    return KeywordLibrarySnapshot(version=version, keywords=keywords, allowlist=allowlist)


@dataclass(frozen=True)
class RiskCoverage:
    code: str
    name: str
    count: int
    minimum: int

    @property
    def ok(self) -> bool:
        return self.count >= self.minimum


class Coverage:
    """The keyword library or a test bank against its minimums: the total, each risk (``risks``, rows of
    ``RiskCoverage``), and its last update (``None``: never) against the longest time allowed between two."""

    total: int
    total_minimum: int
    risks: list[RiskCoverage]
    last_update: datetime | None
    update_max_days: int
    now: datetime

    @property
    def total_ok(self) -> bool:
        return self.total >= self.total_minimum

    @property
    def risks_ok(self) -> bool:
        return all(row.ok for row in self.risks)

    @property
    def risks_failing(self) -> int:
        return sum(1 for row in self.risks if not row.ok)

    @property
    def days_since_update(self) -> int | None:
        return None if self.last_update is None else (self.now - self.last_update).days

    @property
    def update_ok(self) -> bool:
        return self.last_update is not None and self.now - self.last_update <= timedelta(days=self.update_max_days)


@dataclass(frozen=True)
class KeywordCoverage(Coverage):
    """The library against TC260-003 §8.1: total size, per-risk minimums, weekly update."""

    total: int
    total_minimum: int
    risks: list[RiskCoverage]
    version: int
    last_update: datetime | None
    update_max_days: int
    now: datetime
    demo_count: int
    disabled_count: int
    allowlist_count: int
    config_version: int
    clauses: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.total_ok and self.risks_ok and self.update_ok and not self.demo_count


def keyword_coverage() -> KeywordCoverage:
    """Counts enabled keywords only: a disabled keyword blocks nothing."""
    config = safety_config()
    counts = dict(
        Keyword.objects.filter(enabled=True).values("risk_id").annotate(n=Count("pk")).values_list("risk_id", "n")
    )
    risks = [
        RiskCoverage(
            code=risk.code,
            name=risk.name,
            count=counts.get(risk.code, 0),
            minimum=config.keyword_minimum_for(risk.code),
        )
        for risk in Risk.objects.order_by("position")
    ]
    latest = KeywordLibraryVersion.objects.order_by("-number").first()
    return KeywordCoverage(
        total=sum(counts.values()),
        total_minimum=config.keyword_library_min_total,
        risks=risks,
        version=latest.number if latest else 0,
        last_update=latest.created_at if latest else None,
        update_max_days=config.keyword_update_max_days,
        now=timezone.now(),
        demo_count=Keyword.objects.filter(origin=Origin.DEMO).count(),
        disabled_count=Keyword.objects.filter(enabled=False).count(),
        allowlist_count=AllowlistPhrase.objects.filter(enabled=True).count(),
        config_version=config.version,
        clauses=config.clauses,
    )
