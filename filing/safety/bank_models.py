"""Test banks and assessment runs of TC260-003 §8.2-§8.3 and §9.3-§9.4.

A bank holds the questions of one kind (generated content, should refuse, should not refuse),
each with its Appendix A risk. An assessment run samples each bank with a stored seed, sends every
sampled question through the moderation → net → moderation pipeline and keeps each question, its
answer and the verdicts here, in the filing, as evidence. Writes go through
``filing.safety.banks`` and ``filing.safety.assessments``.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from filing.safety.models import Origin, Risk, match_key

__all__: list[str] = [
    "Aspect",
    "AssessmentRun",
    "AssessmentSample",
    "BankKind",
    "TestBank",
    "TestQuestion",
]

QUESTION_MAX_CHARS = 2000


class BankKind(models.TextChoices):
    GENERATED = "generated", _("generated-content bank")
    REFUSE = "refuse", _("should-refuse bank")
    NONREFUSE = "nonrefuse", _("should-not-refuse bank")


class Aspect(models.TextChoices):
    """The aspects a should-not-refuse bank covers (TC260-003 §8.3), each with its own minimum."""

    SYSTEM = "system", _("我国制度 (our system)")
    BELIEFS = "beliefs", _("信仰 (beliefs)")
    IMAGE = "image", _("形象 (image)")
    CULTURE = "culture", _("文化 (culture)")
    CUSTOMS = "customs", _("习俗 (customs)")
    ETHNICITY = "ethnicity", _("民族 (ethnicity)")
    GEOGRAPHY = "geography", _("地理 (geography)")
    HISTORY = "history", _("历史 (history)")
    HEROES = "heroes", _("英烈 (heroes and martyrs)")
    GENDER = "gender", _("性别 (gender)")
    AGE = "age", _("年龄 (age)")
    OCCUPATION = "occupation", _("职业 (occupation)")
    HEALTH = "health", _("健康 (health)")


ASPECT_NAMES_ZH = {
    Aspect.SYSTEM: "我国制度",
    Aspect.BELIEFS: "信仰",
    Aspect.IMAGE: "形象",
    Aspect.CULTURE: "文化",
    Aspect.CUSTOMS: "习俗",
    Aspect.ETHNICITY: "民族",
    Aspect.GEOGRAPHY: "地理",
    Aspect.HISTORY: "历史",
    Aspect.HEROES: "英烈",
    Aspect.GENDER: "性别",
    Aspect.AGE: "年龄",
    Aspect.OCCUPATION: "职业",
    Aspect.HEALTH: "健康",
}


class TestBank(models.Model):
    """A test bank (测试题库) of one kind. ``updated_at`` moves on every change of its questions."""

    __test__ = False  # not a pytest test class

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=BankKind.choices)
    origin = models.CharField(_("origin"), max_length=8, choices=Origin.choices, default=Origin.MANUAL)
    notes = models.TextField(_("notes"), blank=True)
    question_count = models.PositiveIntegerField(_("questions"), default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(
        _("questions last changed"),
        auto_now_add=True,
        help_text=_("Set whenever a question is added, changed or removed."),
    )

    class Meta:
        verbose_name = _("test bank")
        verbose_name_plural = _("test banks")
        ordering = ("kind", "name")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class TestQuestion(models.Model):
    """One question (测试题) of a bank, with its 序号 and its Appendix A risk (一级/二级分类)."""

    __test__ = False

    bank = models.ForeignKey(TestBank, on_delete=models.CASCADE, related_name="questions", verbose_name=_("bank"))
    serial = models.PositiveIntegerField(_("number"), help_text=_("序号 in the bank's file."))
    text = models.TextField(_("question"), max_length=QUESTION_MAX_CHARS)
    key = models.CharField(_("match key"), max_length=64, editable=False, help_text=_("Digest of the normalised text."))
    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="test_questions", verbose_name=_("risk"))
    aspect = models.CharField(
        _("aspect"),
        max_length=16,
        choices=Aspect.choices,
        blank=True,
        help_text=_("For should-not-refuse questions: the aspect of TC260-003 §8.3 the question covers."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("test question")
        verbose_name_plural = _("test questions")
        ordering = ("bank", "serial")
        constraints = [
            models.UniqueConstraint(fields=("bank", "serial"), name="%(app_label)s_%(class)s_unique_bank_serial"),
            models.UniqueConstraint(fields=("bank", "key"), name="%(app_label)s_%(class)s_unique_bank_key"),
            models.CheckConstraint(condition=~models.Q(key=""), name="%(app_label)s_%(class)s_key_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.serial}. {self.text[:60]}"

    def clean(self) -> None:
        self.text = self.text.strip()
        if not match_key(self.text):
            raise ValidationError({"text": _("The question is empty.")})
        if len(self.text) > QUESTION_MAX_CHARS:
            raise ValidationError({"text": _("A question has at most %(n)d characters.") % {"n": QUESTION_MAX_CHARS}})
        self.key = question_key(self.text)
        if self.bank_id is not None:
            twin = TestQuestion.objects.filter(bank_id=self.bank_id, key=self.key).exclude(pk=self.pk).first()
            if twin is not None:
                raise ValidationError(
                    {"text": _("The bank already has this question as number %(n)d.") % {"n": twin.serial}}
                )


def question_key(text: str) -> str:
    """Questions that differ only in width, case or spacing are the same question."""
    import hashlib

    return hashlib.sha256(match_key(text).encode()).hexdigest()


class AssessmentRun(models.Model):
    """One assessment of the service's answers against the three banks (TC260-003 §9.3, §9.4).

    The goals and sample sizes in force when the run was created are copied onto it, so its
    verdict can be read later even after the configuration changes. The seed fixes both the
    sample and every answer: a run created again with the same seed on the same banks and net
    gives the same samples and answers.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("finished")
        FAILED = "failed", _("failed")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    seed = models.BigIntegerField(_("seed"), help_text=_("Fixes the sample and every answer; reuse it to reproduce."))
    generated_bank = models.ForeignKey(
        TestBank, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("generated-content bank")
    )
    refuse_bank = models.ForeignKey(
        TestBank, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("should-refuse bank")
    )
    nonrefuse_bank = models.ForeignKey(
        TestBank, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("should-not-refuse bank")
    )
    bank_names = models.JSONField(_("banks used"), default=dict, help_text=_("Bank names by kind, as at the run."))
    sizes = models.JSONField(_("sample sizes"), default=dict)
    goals = models.JSONField(_("goals in force"), default=dict)
    config_version = models.PositiveIntegerField(_("safety configuration version"))
    answer_params = models.JSONField(_("answer parameters"), default=dict)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    # Filled by the runner.
    checkpoint_sha256 = models.CharField(_("checkpoint SHA-256"), max_length=64, blank=True)
    model_record = models.ForeignKey(
        "filing.ModelRecord",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assessment_runs",
        verbose_name=_("model record"),
    )
    model_record_label = models.CharField(_("model"), max_length=300, blank=True)
    keyword_library_version = models.PositiveIntegerField(_("keyword library version"), null=True, blank=True)
    classifier_model = models.CharField(
        _("classifier version"),
        max_length=64,
        blank=True,
        help_text=_("The classifier's checkpoint (SHA-256, shortened) that judged the answers; empty: none did."),
    )
    progress_done = models.PositiveIntegerField(_("questions answered"), default=0)
    progress_total = models.PositiveIntegerField(_("questions sampled"), default=0)
    results = models.JSONField(_("results"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    worker = models.CharField(_("worker"), max_length=255, blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("assessment run")
        verbose_name_plural = _("assessment runs")
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress_done__lte=models.F("progress_total")),
                name="%(app_label)s_%(class)s_progress_within_total",
            ),
        ]

    def __str__(self) -> str:
        return _("Assessment run %(pk)s (seed %(seed)s)") % {"pk": self.pk, "seed": self.seed}

    @property
    def progress(self) -> Decimal:
        if not self.progress_total:
            return Decimal(0)
        return Decimal(self.progress_done) / Decimal(self.progress_total)


class AssessmentSample(models.Model):
    """One sampled question of a run: what was asked, what the pipeline answered, and the verdicts.

    The question is copied, so the evidence stays readable after the bank changes.
    """

    class Stage(models.TextChoices):
        PENDING = "pending", _("not answered yet")
        ANSWERED = "answered", _("answered")
        INPUT_REFUSED = "input", _("refused by input moderation")
        OUTPUT_REFUSED = "output", _("withheld by output moderation")
        INVALID = "invalid", _("not accepted by the service")

    class Review(models.TextChoices):
        PENDING = "", _("not reviewed")
        PASS = "pass", _("pass")
        FAIL = "fail", _("fail")

    run = models.ForeignKey(AssessmentRun, on_delete=models.CASCADE, related_name="samples", verbose_name=_("run"))
    bank_kind = models.CharField(_("bank"), max_length=16, choices=BankKind.choices)
    position = models.PositiveIntegerField(_("position in the sample"))
    question = models.ForeignKey(
        TestQuestion, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("question")
    )
    serial = models.PositiveIntegerField(_("number"))
    text = models.TextField(_("question"))
    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="+", verbose_name=_("risk"))
    answer_seed = models.BigIntegerField(_("answer seed"))
    stage = models.CharField(_("outcome"), max_length=8, choices=Stage.choices, default=Stage.PENDING)
    answer = models.TextField(_("answer shown"), blank=True)
    generated_text = models.TextField(_("text the net generated"), blank=True)
    input_verdict = models.JSONField(_("input moderation"), default=dict, blank=True)
    output_verdict = models.JSONField(_("output moderation"), default=dict, blank=True)
    keyword_pass = models.BooleanField(_("passes the keyword check"), null=True, blank=True)
    classifier_pass = models.BooleanField(_("passes the classifier check"), null=True, blank=True)
    review = models.CharField(
        _("manual review"), max_length=4, choices=Review.choices, default=Review.PENDING, blank=True
    )
    reviewed_by = models.CharField(_("reviewed by"), max_length=150, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("assessment sample")
        verbose_name_plural = _("assessment samples")
        ordering = ("run", "bank_kind", "position")
        constraints = [
            models.UniqueConstraint(
                fields=("run", "bank_kind", "position"), name="%(app_label)s_%(class)s_unique_run_kind_position"
            ),
        ]
        indexes = [models.Index(fields=("run", "bank_kind", "stage"), name="filing_sample_run_kind_stage")]

    def __str__(self) -> str:
        return f"{self.get_bank_kind_display()} #{self.position + 1}: {self.text[:40]}"

    @property
    def refused(self) -> bool:
        return self.stage in (self.Stage.INPUT_REFUSED, self.Stage.OUTPUT_REFUSED)
