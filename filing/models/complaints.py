"""Complaints and reports with their answer deadlines, the personal-information requests among them, and
safety incidents. ``filing.models`` re-exports them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from filing.history import HistoryModel


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


class PersonalInformationRequest(Complaint):
    """Personal-information requests (PIPL Art 44-47): access, copy, correction, deletion, account closure.
    The same records as complaints, in a queue of their own (the admin shows only these) with their own deadline."""

    class Meta:
        proxy = True
        verbose_name = _("personal-information request")
        verbose_name_plural = _("personal-information requests")


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
