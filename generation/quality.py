"""The quality gate: which figures a checkpoint must reach before it may serve, and how figures read in words.

The thresholds are the ``quality_*`` entries of the versioned safety configuration (``filing``), so an
operator changes them in the admin like any other threshold and every verdict names the version it used.
Pure Python over the ORM: no torch. The figures themselves are measured by ``generation.ml.evaluation``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from filing.safety.selectors import SafetyConfig, safety_config
from generation.models import NetKind


@dataclass(frozen=True)
class GateRule:
    """One check: the figure ``figure`` must be at least (``bound="min"``) or at most the threshold ``threshold``."""

    figure: str
    threshold: str
    bound: str  # "min" or "max"


GATE_RULES: dict[str, tuple[GateRule, ...]] = {
    NetKind.GAN: (
        GateRule("conditional_accuracy", "quality_gan_accuracy_min", "min"),
        GateRule("digit_fid_ratio", "quality_gan_fid_ratio_max", "max"),
    ),
    NetKind.VAE: (GateRule("test_nats", "quality_vae_nats_max", "max"),),
    NetKind.LM: (
        GateRule("bigram_margin", "quality_lm_bigram_margin_min", "min"),
        GateRule("whole_piece_rate", "quality_lm_whole_piece_rate_min", "min"),
    ),
    NetKind.CLASSIFIER: (
        GateRule("accuracy", "quality_classifier_accuracy_min", "min"),
        GateRule("macro_f1", "quality_classifier_macro_f1_min", "min"),
    ),
}

# How each figure reads to a person, and how it is shown: "percent", "ratio" (a multiple) or a number of decimals.
FIGURE_NAMES: dict[str, tuple[Any, str]] = {
    "conditional_accuracy": (_("digits read as the digit asked for"), "percent"),
    "digit_fid": (_("digit-FID against the test digits (lower is better)"), "2"),
    "digit_fid_spread": (_("spread of digit-FID between draws"), "2"),
    "digit_fid_floor": (_("digit-FID floor: real training digits against the test digits"), "2"),
    "digit_fid_ratio": (_("digit-FID as a multiple of the floor (lower is better)"), "ratio"),
    "draws": (_("draws of generated digits measured"), "0"),
    "test_nats": (_("test −ELBO, nats per digit (lower is better)"), "1"),
    "independent_pixel_nats": (_("baseline: independent pixels, nats per digit"), "1"),
    "nats_per_char": (_("held-out nats per character (lower is better)"), "3"),
    "bigram_nats_per_char": (_("baseline: bigram model, nats per character"), "3"),
    "unigram_nats_per_char": (_("baseline: unigram model, nats per character"), "3"),
    "bigram_margin": (_("lead over the bigram baseline, nats per character"), "3"),
    "tunes": (_("tunes tried"), "0"),
    "whole_piece_rate": (_("whole pieces written from a tune's name alone"), "percent"),
    "free_form_rate": (_("pieces in their tune's form, written freely"), "percent"),
    "guided_form_rate": (_("pieces in their tune's form, guided by it"), "percent"),
    "accuracy": (_("texts of the development split classified right"), "percent"),
    "macro_f1": (_("macro-F1 over the offensive and the safe class"), "3"),
    "precision": (_("offensive texts among those read as offensive (precision)"), "percent"),
    "recall": (_("offensive texts read as offensive (recall)"), "percent"),
    "items": (_("texts measured"), "0"),
    # Training-time metrics of each epoch.
    "fid": (_("digit-FID against the training digits"), "2"),
    "validation_nats": (_("validation −ELBO, nats per digit"), "1"),
    "train_nats_per_char": (_("training nats per character"), "3"),
    "d": (_("discriminator loss"), "3"),
    "g": (_("generator loss"), "3"),
    "neg_elbo": (_("training −ELBO, nats per digit"), "1"),
    "reconstruction": (_("reconstruction, nats per digit"), "1"),
    "kl": (_("KL divergence, nats per digit"), "1"),
    "validation_error": (_("texts held out from training classified wrong"), "percent"),
    "validation_accuracy": (_("texts held out from training classified right"), "percent"),
    "validation_macro_f1": (_("macro-F1 on the texts held out from training"), "3"),
    "validation_precision": (_("precision of the offensive class on the texts held out from training"), "percent"),
    "validation_recall": (_("recall of the offensive class on the texts held out from training"), "percent"),
    "validation_items": (_("texts held out from training"), "0"),
    "train_loss": (_("training loss (cross-entropy with the L2 penalty)"), "3"),
}


def figure_name(key: str) -> str:
    entry = FIGURE_NAMES.get(key)
    return str(entry[0]) if entry else key.replace("_", " ")


def figure_format(key: str, value: Any) -> str:
    """A figure rounded for reading: percentages with one decimal, multiples with a ×, others to their decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    style = FIGURE_NAMES.get(key, (None, "3"))[1]
    number = float(value)
    if style == "percent":
        return f"{number:.1%}"
    if style == "ratio":
        return f"{number:.2f}×"
    return f"{number:,.{int(style)}f}"


def figures_readable(figures: dict[str, Any]) -> list[tuple[str, str]]:
    """(name in words, rounded value) of each numeric figure, in the order of ``FIGURE_NAMES``."""
    order = list(FIGURE_NAMES)
    keys = sorted(
        (k for k, v in figures.items() if isinstance(v, int | float) and not isinstance(v, bool)),
        key=lambda k: (order.index(k) if k in order else len(order), k),
    )
    return [(figure_name(k), figure_format(k, figures[k])) for k in keys]


@dataclass(frozen=True)
class GateCheck:
    figure: str
    threshold_key: str
    bound: str
    value: float | None
    threshold: float
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GateCheck:
        return cls(**values)

    def sentence(self) -> str:
        """The check in words, e.g. "digits read as the digit asked for: 97.5% (at least 90.0%)"."""
        shown = figure_format(self.figure, self.value) if self.value is not None else _("not measured")
        limit = figure_format(self.figure, self.threshold)
        bound = _("at least %(v)s") if self.bound == "min" else _("at most %(v)s")
        return f"{figure_name(self.figure)}: {shown} ({bound % {'v': limit}})"


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    checks: tuple[GateCheck, ...]
    config_version: int

    @property
    def failures(self) -> list[GateCheck]:
        return [check for check in self.checks if not check.passed]


def gate_verdict(kind: str, figures: dict[str, Any], config: SafetyConfig | None = None) -> GateVerdict:
    """Judge ``figures`` of a net of ``kind`` against the quality thresholds in force (or those of ``config``).

    A figure that is missing or not a finite number fails its check: what was not measured does not serve.
    """
    config = config or safety_config()
    checks = []
    for rule in GATE_RULES[NetKind(kind)]:
        threshold = float(getattr(config, rule.threshold))
        raw = figures.get(rule.figure)
        value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        finite = value is not None and value == value and abs(value) != float("inf")
        passed = finite and (value >= threshold if rule.bound == "min" else value <= threshold)  # type: ignore[operator]
        checks.append(
            GateCheck(
                figure=rule.figure,
                threshold_key=rule.threshold,
                bound=rule.bound,
                value=value if finite else None,
                threshold=threshold,
                passed=bool(passed),
            )
        )
    return GateVerdict(passed=all(c.passed for c in checks), checks=tuple(checks), config_version=config.version)
