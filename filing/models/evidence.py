"""Evidence and checks of the training data: the files proving where a dataset comes from, the source safety
check of a dataset with its sampled items, and the corpus technical check of a service with its findings.
``filing.models`` re-exports them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from filing.history import HistoryModel


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
    share of the items of every data set of the service (linked or trained on), drawn with a seed and screened by the
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


class CorpusReview(HistoryModel):
    """The manual sample of a service's whole training corpus (TC260-003 §9.2 a)): at least the configured number of
    items (4,000 as shipped) drawn with a seed from all the data sets of the service at once, each judged by a
    reviewer; the share judged acceptable is the corpus manual pass rate, against the configured goal (96% as
    shipped). The goal, the minimum and the data sets with their items are copied onto it."""

    class Status(models.TextChoices):
        IN_REVIEW = "in_review", _("in review")
        MET = "met", _("goal met")
        NOT_MET = "not_met", _("goal not met")

    service = models.ForeignKey(
        "filing.Service", on_delete=models.CASCADE, related_name="corpus_reviews", verbose_name=_("service")
    )
    seed = models.BigIntegerField(_("seed"), help_text=_("The same seed draws the same sample."))
    population = models.PositiveBigIntegerField(_("items in all the training data"))
    sample_size = models.PositiveIntegerField(_("sample size"))
    sample_min = models.PositiveIntegerField(_("minimum sample"), help_text=_("Copied from the safety configuration."))
    goal = models.DecimalField(
        _("minimum pass rate"), max_digits=6, decimal_places=4, help_text=_("Copied from the safety configuration.")
    )
    config_version = models.PositiveIntegerField(_("safety configuration version"))
    datasets = models.JSONField(
        _("data sets"), default=list, help_text=_("Each data set of the service with its items and the items sampled.")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IN_REVIEW)
    failed_count = models.PositiveIntegerField(_("items judged illegal or harmful"), default=0)
    pass_rate = models.DecimalField(_("pass rate"), max_digits=7, decimal_places=6, null=True, blank=True)
    started_by = models.CharField(_("started by"), max_length=150, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_by = models.CharField(_("finished by"), max_length=150, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("corpus manual assessment")
        verbose_name_plural = _("corpus manual assessments")
        ordering = ("-started_at", "-pk")

    def __str__(self) -> str:
        return _("Corpus manual assessment %(pk)s (seed %(seed)s)") % {"pk": self.pk, "seed": self.seed}


class CorpusReviewItem(models.Model):
    """One sampled item of a corpus manual assessment and the reviewer's verdict on it (recorded in the audit log by
    the service that sets it, one record per submitted page)."""

    review = models.ForeignKey(CorpusReview, on_delete=models.CASCADE, related_name="items", verbose_name=_("review"))
    position = models.PositiveIntegerField(_("position"))
    dataset = models.ForeignKey("filing.Dataset", on_delete=models.PROTECT, related_name="+", verbose_name=_("dataset"))
    item_index = models.PositiveBigIntegerField(_("item number in the dataset"))
    excerpt = models.TextField(_("excerpt"), blank=True)
    prescreen = models.JSONField(_("machine pre-screen"), default=dict, blank=True)
    verdict = models.CharField(
        _("verdict"), max_length=8, choices=SampleItem.Verdict.choices, default=SampleItem.Verdict.PENDING
    )
    risk = models.ForeignKey(
        "filing.Risk", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("risk")
    )
    reviewer = models.CharField(_("reviewer"), max_length=150, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("corpus sample item")
        verbose_name_plural = _("corpus sample items")
        ordering = ("review", "position")
        constraints = [
            models.UniqueConstraint(fields=("review", "position"), name="%(app_label)s_%(class)s_unique_position"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} ({self.dataset_id}:{self.item_index})"
