"""Generation jobs (the source of truth of a request) and their labelled outputs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from generation.models.nets import GENERATOR_CHOICES, Checkpoint


class Job(models.Model):
    """One generation request of an end user. The row, not the broker, is the source of truth.

    Protocol: ``queued`` → (worker claims under a row lock) ``running`` → ``succeeded`` or ``failed``;
    ``refused`` never reaches a worker; ``cancelled`` only from ``queued``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        REFUSED = "refused", _("refused")
        CANCELLED = "cancelled", _("cancelled")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.REFUSED, Status.CANCELLED)
    # Not a field: job_submit sets it to True on the job an earlier request with the same idempotency key made.
    replayed: bool = False

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_jobs", verbose_name=_("user")
    )
    kind = models.CharField(_("net"), max_length=8, choices=GENERATOR_CHOICES)
    params = models.JSONField(_("parameters"), default=dict)
    seed = models.BigIntegerField(_("seed"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    checkpoint = models.ForeignKey(
        Checkpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs", verbose_name=_("checkpoint")
    )
    reason = models.TextField(_("reason"), blank=True, help_text=_("why the job was refused or failed, in plain words"))
    risk_codes = models.JSONField(_("risk codes"), default=list, blank=True)
    moderation = models.JSONField(
        _("moderation verdicts"), default=dict, blank=True, help_text=_("input and output verdicts, without keywords")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=128, null=True, blank=True)
    request_hash = models.CharField(
        _("request hash"),
        max_length=64,
        blank=True,
        help_text=_("SHA-256 of the request's kind and parameters, compared when its idempotency key comes again"),
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    worker = models.CharField(_("worker"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(_("enqueued at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("generation job")
        verbose_name_plural = _("generation jobs")
        ordering = ("-created_at",)
        indexes = [
            # The jobs waiting (status "queued"), oldest first: a queue's depth and a job's place in it.
            models.Index(fields=("status", "created_at"), name="generation_job_status_created"),
            # The jobs finished lately: a queue's throughput, for start estimates and Retry-After.
            models.Index(fields=("status", "finished_at"), name="generation_job_status_finished"),
            # A user's jobs, newest first: the history page and GET /api/v1/jobs/ read them in this order.
            models.Index(fields=("user", "-created_at", "-id"), name="generation_job_user_newest"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("user", "idempotency_key"),
                condition=Q(idempotency_key__isnull=False),
                name="%(app_label)s_%(class)s_unique_user_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.public_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Output(models.Model):
    """One delivered artefact of a job: a labelled image file or a labelled text.

    ``produce_id`` is the ProduceID written into the implicit label and the key of its audit record.
    """

    class Media(models.TextChoices):
        IMAGE = "image", _("image")
        TEXT = "text", _("text")

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="outputs", verbose_name=_("job"))
    index = models.PositiveIntegerField(_("index"))
    produce_id = models.CharField(_("ProduceID"), max_length=64, unique=True)
    media = models.CharField(_("media"), max_length=8, choices=Media.choices)
    file = models.FileField(_("file"), upload_to="outputs/", max_length=255)
    file_unlabelled = models.FileField(
        _("file without the visible label"),
        upload_to="outputs/",
        max_length=255,
        blank=True,
        help_text=_("Kept only for users who accepted the labelling obligation; still carries the implicit label."),
    )
    text = models.TextField(_("text"), blank=True)
    sha256 = models.CharField(_("SHA-256 of the delivered file"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Removed by an operator (an incident): the files are gone, the page and the download say so.
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    removed_reason = models.TextField(_("why it was removed"), blank=True)
    removed_by = models.CharField(_("removed by"), max_length=150, blank=True)
    incident = models.ForeignKey(
        "filing.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outputs_removed",
        verbose_name=_("incident"),
    )

    class Meta:
        verbose_name = _("output")
        verbose_name_plural = _("outputs")
        ordering = ("job", "index")
        constraints = [
            models.UniqueConstraint(fields=("job", "index"), name="%(app_label)s_%(class)s_unique_job_index"),
        ]

    def __str__(self) -> str:
        return self.produce_id

    @property
    def removed(self) -> bool:
        return self.removed_at is not None
