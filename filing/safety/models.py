"""Safety records of the filing: the TC260-003 Appendix A risks, the configured thresholds and the keyword library.

The models live in the ``filing`` app (``filing.models`` re-exports them). Writes go through
``filing.safety.services``; every change to the keyword library or to the thresholds creates a new
version, so what was in force at any moment can be named.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

__all__: list[str] = [
    "AllowlistPhrase",
    "Keyword",
    "KeywordLibraryVersion",
    "Risk",
    "RiskCategory",
    "SafetyConfigVersion",
    "SafetyThreshold",
]


class _Bilingual:
    """Chinese name when the active language is Chinese, English otherwise."""

    name_zh: str
    name_en: str

    @property
    def name(self) -> str:
        language = (get_language() or "zh-hans").lower()
        return self.name_zh if language.startswith("zh") else (self.name_en or self.name_zh)


class RiskCategory(_Bilingual, models.Model):
    """One of the 5 first-level risk categories of TC260-003 Appendix A (一级分类), e.g. ``A.1``."""

    code = models.CharField(_("code"), max_length=8, primary_key=True)
    name_zh = models.CharField(_("Chinese name"), max_length=100, unique=True)
    name_en = models.CharField(_("English name"), max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), unique=True)

    class Meta:
        verbose_name = _("risk category")
        verbose_name_plural = _("risk categories")
        ordering = ("position",)

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"


class Risk(_Bilingual, models.Model):
    """One of the 31 risks of TC260-003 Appendix A (二级分类), with a stable code such as ``A.1.6``.

    Keywords, test questions and moderation verdicts refer to risks by this code.
    """

    code = models.CharField(_("code"), max_length=8, primary_key=True)
    category = models.ForeignKey(
        RiskCategory, on_delete=models.PROTECT, related_name="risks", verbose_name=_("category")
    )
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), unique=True)

    class Meta:
        verbose_name = _("risk")
        verbose_name_plural = _("risks")
        ordering = ("position",)
        constraints = [
            models.UniqueConstraint(
                fields=("category", "name_zh"), name="%(app_label)s_%(class)s_unique_category_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"


class SafetyConfigVersion(models.Model):
    """One version of the safety thresholds. The highest number is in force; older ones are kept as history."""

    number = models.PositiveIntegerField(_("version"), unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("safety configuration version")
        verbose_name_plural = _("safety configuration versions")
        ordering = ("-number",)

    def __str__(self) -> str:
        return f"v{self.number}"


class SafetyThreshold(models.Model):
    """One threshold of one configuration version, with the clause it comes from.

    ``basis`` says whether the number was read in the clause's text or recalled from it, so an
    operator knows which ones to check against the official document.
    """

    class Unit(models.TextChoices):
        COUNT = "count", _("count")
        DAYS = "days", _("days")
        RATIO = "ratio", _("ratio")
        MULTIPLE = "multiple", _("multiple")
        NATS = "nats", _("nats")

    class Basis(models.TextChoices):
        VERIFIED = "verified", _("verified in the source")
        RECALLED = "recalled", _("recalled, to be checked")
        POLICY = "policy", _("the provider's own policy under the clause")

    WHOLE_UNITS = (Unit.COUNT, Unit.DAYS)

    version = models.ForeignKey(
        SafetyConfigVersion, on_delete=models.CASCADE, related_name="thresholds", verbose_name=_("version")
    )
    key = models.SlugField(_("key"), max_length=64)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=8, choices=Unit.choices)
    clause = models.CharField(_("source clause"), max_length=100)
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices)
    title_zh = models.CharField(_("Chinese title"), max_length=200)
    title_en = models.CharField(_("English title"), max_length=200)

    class Meta:
        verbose_name = _("safety threshold")
        verbose_name_plural = _("safety thresholds")
        ordering = ("version", "key")
        constraints = [
            models.UniqueConstraint(fields=("version", "key"), name="%(app_label)s_%(class)s_unique_version_key"),
            models.CheckConstraint(condition=models.Q(value__gte=0), name="%(app_label)s_%(class)s_value_non_negative"),
            models.CheckConstraint(
                condition=~models.Q(unit="ratio") | models.Q(value__lte=1),
                name="%(app_label)s_%(class)s_ratio_at_most_one",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} = {self.display_value}"

    @property
    def title(self) -> str:
        language = (get_language() or "zh-hans").lower()
        return self.title_zh if language.startswith("zh") else self.title_en

    @property
    def display_value(self) -> str:
        if self.unit == self.Unit.RATIO:
            return f"{(self.value * 100).normalize():f}%"
        number = f"{self.value.normalize():f}" if self.value != self.value.to_integral() else str(int(self.value))
        return f"{number}×" if self.unit == self.Unit.MULTIPLE else number

    def typed_value(self) -> int | Decimal:
        """Counts and days as ``int``; ratios, multiples and nats as ``Decimal``."""
        return int(self.value) if self.unit in self.WHOLE_UNITS else Decimal(self.value)


#
# Keyword library
#


def match_key(text: str) -> str:
    """The form two library entries are compared in to find duplicates: NFKC, case-folded, no whitespace.

    The moderation step normalises further before matching (traditional to simplified, punctuation
    removed); this key only keeps the library free of entries that differ in case or width alone.
    """
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


class KeywordLibraryVersion(models.Model):
    """One state of the keyword library and allowlist. Every change creates the next number.

    The highest number is the version in force; moderation verdicts and audit events record it.
    """

    number = models.PositiveIntegerField(_("version"), unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    reason = models.CharField(_("reason"), max_length=500)
    keyword_count = models.PositiveIntegerField(_("enabled keywords"), default=0)
    allowlist_count = models.PositiveIntegerField(_("enabled allowlist phrases"), default=0)

    class Meta:
        verbose_name = _("keyword library version")
        verbose_name_plural = _("keyword library versions")
        ordering = ("-number",)

    def __str__(self) -> str:
        return f"v{self.number}"


class Origin(models.TextChoices):
    MANUAL = "manual", _("entered by hand")
    IMPORT = "import", _("imported")
    DEMO = "demo", _("synthetic demo entry")


def _match_key_set(instance: Any, field: str, *, empty: Any, taken: Any) -> None:
    """Strip ``instance.<field>``, set its match key, and refuse an empty text or one whose key another row of
    the same model already has (``taken`` is formatted with ``new`` and ``old``)."""
    text = getattr(instance, field).strip()
    setattr(instance, field, text)
    instance.key = match_key(text)
    if not instance.key:
        raise ValidationError({field: empty})
    twin = type(instance).objects.filter(key=instance.key).exclude(pk=instance.pk).first()
    if twin is not None:
        raise ValidationError({field: taken % {"new": text, "old": twin}})


class LibraryEntry(models.Model):
    """What a keyword and an allowlist phrase both have: a match key (set by ``clean``), whether it is on, notes,
    where it came from, and when."""

    # Each kind of entry names the field its text is in, and its refusals of an empty text and of a text whose
    # key another entry already has.
    text_field: ClassVar[str]
    text_empty: ClassVar[Any]
    text_taken: ClassVar[Any]

    enabled = models.BooleanField(_("enabled"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    origin = models.CharField(_("origin"), max_length=8, choices=Origin.choices, default=Origin.MANUAL)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(condition=~models.Q(key=""), name="%(app_label)s_%(class)s_key_not_empty"),
        ]

    def clean(self) -> None:
        _match_key_set(self, self.text_field, empty=self.text_empty, taken=self.text_taken)


class Keyword(LibraryEntry):
    """One entry of the keyword library (拦截关键词): a word or phrase, the risk it belongs to and what a hit does."""

    class Action(models.TextChoices):
        BLOCK = "block", _("block")
        FLAG = "flag", _("flag for review")

    keyword = models.CharField(_("keyword"), max_length=200)
    key = models.CharField(
        _("match key"),
        max_length=200,
        unique=True,
        editable=False,
        help_text=_("The keyword in the form duplicates are detected in (NFKC, case-folded, no spaces)."),
    )
    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="keywords", verbose_name=_("risk"))
    action = models.CharField(_("action"), max_length=8, choices=Action.choices, default=Action.BLOCK)

    class Meta(LibraryEntry.Meta):
        verbose_name = _("keyword")
        verbose_name_plural = _("keywords")
        ordering = ("risk", "keyword")
        indexes = [models.Index(fields=("risk", "enabled"), name="filing_keyword_risk_enabled")]

    text_field = "keyword"
    text_empty = _("The keyword is empty.")
    text_taken = _("“%(new)s” is already in the library as “%(old)s”.")

    def __str__(self) -> str:
        return self.keyword


class AllowlistPhrase(LibraryEntry):
    """An innocent phrase that contains a keyword (e.g. a place name). Hits inside it are not counted.

    Only the keyword hits the phrase covers are suppressed; the same keyword elsewhere in the text
    still counts.
    """

    phrase = models.CharField(_("phrase"), max_length=200)
    key = models.CharField(_("match key"), max_length=200, unique=True, editable=False)

    class Meta(LibraryEntry.Meta):
        verbose_name = _("allowlist phrase")
        verbose_name_plural = _("allowlist phrases")
        ordering = ("phrase",)

    text_field = "phrase"
    text_empty = _("The phrase is empty.")
    text_taken = _("“%(new)s” is already on the allowlist as “%(old)s”.")

    def __str__(self) -> str:
        return self.phrase
