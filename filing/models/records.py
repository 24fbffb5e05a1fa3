"""Filing records around the service: evidence, source safety checks, documents, the security
self-assessment, complaints, incidents and package exports. ``filing.models`` re-exports them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from filing.history import HistoryModel

__all__ = [
    "AssessmentClause",
    "Complaint",
    "CorpusCheck",
    "CorpusFinding",
    "DatasetEvidence",
    "Document",
    "FilingExport",
    "Incident",
    "PersonalInformationRequest",
    "SafetyCheck",
    "SampleItem",
    "SelfAssessment",
]


class DatasetEvidence(HistoryModel):
    """A licence, authorisation, contract or collection record proving where a dataset comes from."""

    class Kind(models.TextChoices):
        LICENCE = "licence", _("licence")
        AUTHORISATION = "authorisation", _("authorisation")
        CONTRACT = "contract", _("purchase contract")
        COLLECTION_RECORD = "collection", _("collection record")
        OTHER = "other", _("other proof")

    dataset = models.ForeignKey(
        "filing.Dataset", on_delete=models.CASCADE, related_name="evidence", verbose_name=_("dataset")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to="filing/evidence/", max_length=255)
    note = models.CharField(_("note"), max_length=300, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        ordering = ("dataset", "kind", "pk")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {(self.file.name or '').rsplit('/', 1)[-1]}"


class SafetyCheck(HistoryModel):
    """A source safety check of one dataset (TC260-003 §5.1 a)): reviewers judge a seeded random
    sample item by item; above the threshold share of illegal items the dataset is unusable."""

    class Status(models.TextChoices):
        IN_REVIEW = "in_review", _("in review")
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed")

    dataset = models.ForeignKey(
        "filing.Dataset", on_delete=models.CASCADE, related_name="safety_checks", verbose_name=_("dataset")
    )
    seed = models.BigIntegerField(_("seed"), help_text=_("The same seed draws the same sample."))
    population = models.PositiveBigIntegerField(_("items in the dataset"))
    sample_size = models.PositiveIntegerField(_("sample size"))
    threshold = models.DecimalField(
        _("maximum illegal share"), max_digits=6, decimal_places=4, help_text=_("Copied from the safety configuration.")
    )
    config_version = models.PositiveIntegerField(_("safety configuration version"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IN_REVIEW)
    illegal_count = models.PositiveIntegerField(_("illegal items"), default=0)
    illegal_ratio = models.DecimalField(_("illegal share"), max_digits=7, decimal_places=6, null=True, blank=True)
    started_by = models.CharField(_("started by"), max_length=150, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_by = models.CharField(_("finished by"), max_length=150, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("source safety check")
        verbose_name_plural = _("source safety checks")
        ordering = ("-started_at", "-pk")

    def __str__(self) -> str:
        return f"{self.dataset.name} #{self.pk} ({self.get_status_display()})"


class SampleItem(models.Model):
    """One sampled item of a safety check and the reviewer's verdict on it.

    Verdicts are recorded in the audit log by the service that sets them (one record per
    submitted page), not row by row from here.
    """

    class Verdict(models.TextChoices):
        PENDING = "pending", _("not reviewed")
        OK = "ok", _("acceptable")
        ILLEGAL = "illegal", _("illegal or harmful")

    check_run = models.ForeignKey(SafetyCheck, on_delete=models.CASCADE, related_name="items", verbose_name=_("check"))
    position = models.PositiveIntegerField(_("position"))
    item_index = models.PositiveBigIntegerField(_("item number in the dataset"))
    excerpt = models.TextField(_("excerpt"), blank=True)
    prescreen = models.JSONField(
        _("machine pre-screen"),
        default=dict,
        blank=True,
        help_text=_(
            "What the keyword and classifier layers found in the excerpt when the sample was drawn: advice to the "
            "reviewer, whose verdict alone counts. Empty: not screened."
        ),
    )
    verdict = models.CharField(_("verdict"), max_length=8, choices=Verdict.choices, default=Verdict.PENDING)
    risk = models.ForeignKey(
        "filing.Risk", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("risk")
    )
    reviewer = models.CharField(_("reviewer"), max_length=150, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sample item")
        verbose_name_plural = _("sample items")
        ordering = ("check_run", "position")
        constraints = [
            models.UniqueConstraint(fields=("check_run", "position"), name="%(app_label)s_%(class)s_unique_position"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} (item {self.item_index})"


class CorpusCheck(models.Model):
    """The technical sample of a service's whole training corpus (TC260-003 §9.2 b)): at least the configured
    share of the items of every data set its models were trained on, drawn with a seed and screened by the
    keyword and the classifier layers. Each layer's pass rate is kept apart, and an item passes the check only
    when both let it through. The goal and share in force are copied onto it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("finished")
        FAILED = "failed", _("failed")

    service = models.ForeignKey(
        "filing.Service", on_delete=models.CASCADE, related_name="corpus_checks", verbose_name=_("service")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    seed = models.BigIntegerField(_("seed"), help_text=_("The same seed draws the same sample."))
    sample_ratio = models.DecimalField(_("share of each data set sampled"), max_digits=6, decimal_places=4)
    goal = models.DecimalField(_("minimum pass rate"), max_digits=6, decimal_places=4)
    config_version = models.PositiveIntegerField(_("safety configuration version"))
    datasets = models.JSONField(
        _("data sets"), default=list, help_text=_("Each data set with its items, the items sampled and screened.")
    )
    population = models.PositiveBigIntegerField(_("items in the screened data sets"), default=0)
    sampled = models.PositiveIntegerField(_("items sampled"), default=0)
    results = models.JSONField(_("results"), default=dict, blank=True)
    keyword_library_version = models.PositiveIntegerField(_("keyword library version"), null=True, blank=True)
    classifier_model = models.CharField(_("classifier version"), max_length=64, blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("corpus technical check")
        verbose_name_plural = _("corpus technical checks")
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return _("Corpus technical check %(pk)s (seed %(seed)s)") % {"pk": self.pk, "seed": self.seed}


class CorpusFinding(models.Model):
    """A sampled item of a corpus technical check that a layer did not let through, with what each layer found."""

    check_run = models.ForeignKey(
        CorpusCheck, on_delete=models.CASCADE, related_name="findings", verbose_name=_("check")
    )
    dataset = models.ForeignKey("filing.Dataset", on_delete=models.CASCADE, related_name="+", verbose_name=_("dataset"))
    item_index = models.PositiveBigIntegerField(_("item number in the dataset"))
    excerpt = models.TextField(_("excerpt"), blank=True)
    keyword_pass = models.BooleanField(_("passes the keyword check"), null=True)
    classifier_pass = models.BooleanField(_("passes the classifier check"), null=True)
    flags = models.JSONField(_("what the layers found"), default=dict)

    class Meta:
        verbose_name = _("corpus finding")
        verbose_name_plural = _("corpus findings")
        ordering = ("check_run", "dataset", "item_index")

    def __str__(self) -> str:
        return f"{self.dataset_id}#{self.item_index}"


class Document(HistoryModel):
    """One version of a document the filing attaches: annotation rules, service agreement, privacy policy."""

    class Kind(models.TextChoices):
        ANNOTATION_RULES = "annotation_rules", _("annotation rules")
        SERVICE_AGREEMENT = "service_agreement", _("service agreement")
        PRIVACY_POLICY = "privacy_policy", _("privacy policy")

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


class SelfAssessment(HistoryModel):
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
    # Measured metrics (TC260-003 §9.2-§9.4). Those of §9.2 b), §9.3 and §9.4 are copied from the linked
    # corpus technical check and assessment run, never typed; without a link they stay empty (not measured).
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


def working_days_after(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday to Friday) after ``start``; public holidays are not known, so not skipped."""
    moment = start
    left = days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def complaint_due(received_at: datetime, category: str = "") -> datetime:
    """When a complaint must be answered: a personal-information request within its own working days (PIPL
    Art 50, 15 by default), any other complaint within the configured days."""
    if category == "personal_info":
        return working_days_after(received_at, settings.PI_REQUEST_WORKING_DAYS)
    return received_at + timedelta(days=settings.COMPLAINT_RESPONSE_DAYS)


class Complaint(HistoryModel):
    """A complaint or report (投诉举报, Interim Measures Art 15), answered within the configured time."""

    class Channel(models.TextChoices):
        WEB = "web", _("web page")
        API = "api", _("API")
        EMAIL = "email", _("e-mail")
        PHONE = "phone", _("phone")
        SMS = "sms", _("SMS")
        OTHER = "other", _("other")

    class Category(models.TextChoices):
        ILLEGAL = "illegal", _("illegal or harmful content")
        DISCRIMINATION = "discrimination", _("discrimination or hate")
        RIGHTS = "rights", _("infringes someone's rights")
        INACCURATE = "inaccurate", _("false or misleading")
        LABEL = "label", _("missing or wrong AI label")
        PERSONAL_INFORMATION = "personal_info", _("personal information request")
        OTHER = "other", _("something else")

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        IN_PROGRESS = "in_progress", _("in progress")
        RESOLVED = "resolved", _("resolved")
        REJECTED = "rejected", _("rejected with reasons")

    class PiRequest(models.TextChoices):
        ACCESS = "access", _("access: what personal information is held")
        COPY = "copy", _("a copy of it")
        CORRECTION = "correction", _("correct it")
        DELETION = "deletion", _("delete it")
        CLOSURE = "closure", _("close the account")

    service = models.ForeignKey(
        "filing.Service",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints",
        verbose_name=_("service"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    complainant = models.CharField(_("who"), max_length=200, help_text=_("Name, account or contact of the person."))
    user_id = models.CharField(_("user id"), max_length=64, blank=True)
    produce_id = models.CharField(_("ProduceID"), max_length=64, blank=True, db_index=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    pi_request = models.CharField(
        _("personal-information request"), max_length=12, choices=PiRequest.choices, blank=True
    )
    contact = models.CharField(
        _("contact for the answer"), max_length=200, blank=True, help_text=_("A phone number or an e-mail address.")
    )
    attachment = models.FileField(
        _("file identifying the content"), upload_to="filing/complaints/", max_length=255, blank=True
    )
    details = models.TextField(_("details"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    due_at = models.DateTimeField(_("answer due"), blank=True)
    handler = models.CharField(_("handler"), max_length=150, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("complaint or report")
        verbose_name_plural = _("complaints and reports")
        ordering = ("-received_at", "-pk")
        indexes = [models.Index(fields=("status", "due_at"), name="filing_complaint_status_due")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_category_display()}"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.due_at is None:
            self.due_at = complaint_due(self.received_at, self.category)
        super().save(*args, **kwargs)

    @property
    def number(self) -> str:
        """The number the complainant is given, e.g. TS-000042 (PI-000043 for a personal-information request)."""
        prefix = "PI" if self.category == self.Category.PERSONAL_INFORMATION else "TS"
        return f"{prefix}-{self.pk:06d}" if self.pk else ""

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.RECEIVED, self.Status.IN_PROGRESS)

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()


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


class Incident(HistoryModel):
    """A safety incident (应急处置): what was found and when, what was done, how it was fixed, whom it was
    reported to, and what it involved (jobs, outputs, complaints, audit records)."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CONTAINED = "contained", _("contained")
        CLOSED = "closed", _("closed")

    class Fix(models.TextChoices):
        NONE = "", _("not yet")
        RETRAINING = "retraining", _("model retraining")
        FILTER = "filter", _("filter update (keywords, classifier)")
        OTHER = "other", _("other")

    service = models.ForeignKey(
        "filing.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("service"),
    )
    title = models.CharField(_("what happened"), max_length=200)
    description = models.TextField(_("details"), blank=True)
    found_at = models.DateTimeField(_("found at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    stopped_generation = models.BooleanField(_("measure: generation stopped"), default=False)
    stopped_transmission = models.BooleanField(_("measure: transmission stopped"), default=False)
    removed_content = models.BooleanField(_("measure: content removed"), default=False)
    measures_note = models.TextField(_("measures, in words"), blank=True)
    fix = models.CharField(_("fix"), max_length=12, choices=Fix.choices, blank=True)
    fix_note = models.TextField(_("the fix, in words"), blank=True)
    reported_to = models.CharField(_("reported to"), max_length=200, blank=True)
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    job_ids = models.JSONField(_("jobs involved"), default=list, blank=True, help_text=_("Job ids, one a line."))
    produce_ids = models.JSONField(
        _("outputs involved"), default=list, blank=True, help_text=_("ProduceIDs of the outputs, one a line.")
    )
    audit_seqs = models.JSONField(
        _("audit records involved"), default=list, blank=True, help_text=_("Sequence numbers of audit records.")
    )
    complaints = models.ManyToManyField(
        "filing.Complaint", blank=True, related_name="incidents", verbose_name=_("complaints involved")
    )
    created_by = models.CharField(_("recorded by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ("-found_at", "-pk")

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class PersonalInformationRequest(Complaint):
    """Personal-information requests (PIPL Art 44-47): access, copy, correction, deletion, account closure.
    The same records as complaints, in a queue of their own (the admin shows only these) with their own deadline."""

    class Meta:
        proxy = True
        verbose_name = _("personal-information request")
        verbose_name_plural = _("personal-information requests")
