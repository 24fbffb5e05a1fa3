"""Filing records of a service: its documents, the security self-assessment with its clause verdicts, and
the exports of its filing package. ``filing.models`` re-exports them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from filing.history import HistoryModel
from filing.models.four_eyes import SignedOffRecord


class Document(HistoryModel):
    """One version of a document the filing attaches: annotation rules, service agreement, privacy policy."""

    class Kind(models.TextChoices):
        ANNOTATION_RULES = "annotation_rules", _("annotation rules")
        SERVICE_AGREEMENT = "service_agreement", _("service agreement")
        PRIVACY_POLICY = "privacy_policy", _("privacy policy")
        CALL_CONTRACT = "call_contract", _("contract for calling the filed model")

    service = models.ForeignKey(
        "filing.Service", on_delete=models.CASCADE, related_name="documents", verbose_name=_("service")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    version = models.CharField(_("version"), max_length=50)
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to="filing/documents/", max_length=255)
    effective_on = models.DateField(_("effective from"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    body = models.TextField(
        _("text shown on the site"),
        blank=True,
        help_text=_(
            "Service agreement and privacy policy: the text end users read on the terms or privacy page once the "
            "document is published (paragraphs separated by an empty line)."
        ),
    )
    published_at = models.DateTimeField(
        _("published on the site at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("End users must accept a newly published service agreement or privacy policy before generating."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ("service", "kind", "-created_at")
        constraints = [
            models.UniqueConstraint(
                fields=("service", "kind", "version"), name="%(app_label)s_%(class)s_unique_kind_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.version}"


class SelfAssessment(SignedOffRecord):
    """The security self-assessment (TC260-003 §9): one verdict per clause, the measured metrics,
    and three signers before it can be finalised."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        FINALISED = "finalised", _("finalised")

    service = models.ForeignKey(
        "filing.Service", on_delete=models.CASCADE, related_name="assessments", verbose_name=_("service")
    )
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    conclusion = models.TextField(_("overall conclusion"), blank=True)
    legal_representative_signer = models.CharField(_("legal representative (signer)"), max_length=100, blank=True)
    assessment_lead_signer = models.CharField(
        _("overall assessment lead (signer)"),
        max_length=100,
        blank=True,
        help_text=_("A principal manager or the cybersecurity lead."),
    )
    legality_lead_signer = models.CharField(
        _("legality lead (signer)"),
        max_length=100,
        blank=True,
        help_text=_("A principal manager or the legal lead."),
    )
    signers_note = models.TextField(
        _("note on signers"), blank=True, help_text=_("Required when one person holds several signing roles.")
    )
    # Measured metrics (TC260-003 §9.2-§9.4), copied from the linked corpus manual assessment (§9.2 a)), corpus
    # technical check (§9.2 b)) and assessment run (§9.3, §9.4), never typed; without a link they stay empty.
    assessment_run = models.ForeignKey(
        "filing.AssessmentRun",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="self_assessments",
        verbose_name=_("assessment run the figures come from"),
        help_text=_("A finished run: its sample sizes, pass rates and refusal rates are copied here."),
    )
    corpus_check = models.ForeignKey(
        "filing.CorpusCheck",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="self_assessments",
        verbose_name=_("corpus technical check the figure comes from"),
        help_text=_("A finished check of this service's corpus: its pass rate is copied here."),
    )
    corpus_review = models.ForeignKey(
        "filing.CorpusReview",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="self_assessments",
        verbose_name=_("corpus manual assessment the figure comes from"),
        help_text=_("A finished manual assessment of this service's whole corpus: its pass rate is copied here."),
    )
    corpus_manual_pass_rate = models.DecimalField(
        _("corpus manual pass rate"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    corpus_technical_pass_rate = models.DecimalField(
        _("corpus technical pass rate"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    generated_sample_size = models.PositiveIntegerField(_("generated-content questions tested"), null=True, blank=True)
    generated_pass_rate_manual = models.DecimalField(
        _("generated content pass rate (manual)"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    generated_pass_rate_keyword = models.DecimalField(
        _("generated content pass rate (keyword)"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    generated_pass_rate_classifier = models.DecimalField(
        _("generated content pass rate (classifier)"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    refuse_sample_size = models.PositiveIntegerField(_("should-refuse questions tested"), null=True, blank=True)
    refuse_rate = models.DecimalField(
        _("refusal rate on should-refuse questions"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    nonrefuse_sample_size = models.PositiveIntegerField(_("should-not-refuse questions tested"), null=True, blank=True)
    nonrefuse_refusal_rate = models.DecimalField(
        _("refusal rate on should-not-refuse questions"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    finalised_by = models.CharField(_("finalised by"), max_length=150, blank=True)
    finalised_at = models.DateTimeField(_("finalised at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("security self-assessment")
        verbose_name_plural = _("security self-assessments")
        ordering = ("service", "-created_at")

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"


class AssessmentClause(HistoryModel):
    """One clause of the standard and the assessment's verdict on it."""

    class Verdict(models.TextChoices):
        CONFORMS = "conforms", _("符合 (conforms)")
        DOES_NOT_CONFORM = "nonconforming", _("不符合 (does not conform)")
        NOT_APPLICABLE = "not_applicable", _("不适用 (not applicable)")

    assessment = models.ForeignKey(
        SelfAssessment, on_delete=models.CASCADE, related_name="clauses", verbose_name=_("assessment")
    )
    clause = models.CharField(_("clause"), max_length=40)
    requirement = models.TextField(_("requirement"))
    verdict = models.CharField(_("verdict"), max_length=16, choices=Verdict.choices, blank=True)
    evidence = models.TextField(_("evidence"), blank=True)
    evidence_file = models.FileField(_("evidence file"), upload_to="filing/assessment/", max_length=255, blank=True)
    evidence_link = models.URLField(
        _("evidence link"), blank=True, help_text=_("For example the assessment run and its metrics.")
    )
    reason = models.TextField(_("reason"), blank=True, help_text=_("Required for 不符合 and 不适用."))
    owner = models.CharField(_("owner"), max_length=100, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("clause verdict")
        verbose_name_plural = _("clause verdicts")
        ordering = ("assessment", "position", "pk")

    def __str__(self) -> str:
        return self.clause


class FilingExport(models.Model):
    """One build of the filing package of a service, made by a background job."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    service = models.ForeignKey(
        "filing.Service", on_delete=models.CASCADE, related_name="exports", verbose_name=_("service")
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    step = models.CharField(_("step"), max_length=200, blank=True)
    file = models.FileField(_("file"), upload_to="filing/exports/", max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    draft = models.BooleanField(
        _("draft"), default=False, help_text=_("Built while readiness items were open or files were missing.")
    )
    open_items = models.JSONField(
        _("open items"), default=list, blank=True, help_text=_("What was open or missing when the package was built.")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("filing package export")
        verbose_name_plural = _("filing package exports")
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return f"{self.service} #{self.pk} ({self.get_status_display()})"
