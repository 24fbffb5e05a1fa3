"""Reads of the safety records: the thresholds in force, the taxonomy, the keyword library."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

from filing.safety.models import Risk, SafetyConfigVersion, SafetyThreshold


@dataclass(frozen=True)
class SafetyConfig:
    """The thresholds in force, by key; ``version`` names the configuration version they come from.

    Field names are the keys of ``filing/data/safety_thresholds.json``; counts and days are ``int``,
    ratios are ``Decimal`` between 0 and 1. ``clauses`` maps each key to its source clause.
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
    suspension_consecutive_refusals: int
    suspension_refusals_per_day: int
    training_optout_max_clicks: int
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
