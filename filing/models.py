"""The facts the generative-AI service filing asks for. This app never imports ``generation``."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from filing.validators import model_code_validate, uscc_normalise, uscc_validate


class Provider(models.Model):
    """The filing subject (备案主体): the organisation that provides the service."""

    legal_name = models.CharField(_("legal name"), max_length=200, unique=True)
    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        unique=True,
        help_text=_("18 characters, checked against the GB 32100 check character."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")
        ordering = ("legal_name",)

    def __str__(self) -> str:
        return self.legal_name

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.uscc = uscc_normalise(self.uscc)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            self.uscc = uscc_validate(self.uscc)
        except ValidationError as exc:
            raise ValidationError({"uscc": exc.messages}) from exc


class Service(models.Model):
    """A generative-AI service offered to the public, and where it stands in the filing."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SELF_ASSESSED = "self_assessed", _("self-assessed")
        SUBMITTED = "submitted", _("submitted")
        FILED = "filed", _("filed")
        RETURNED = "returned", _("returned")
        CHANGE_PENDING = "change_pending", _("change pending")
        DEREGISTERED = "deregistered", _("deregistered")

    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="services", verbose_name=_("provider")
    )
    name = models.CharField(_("service name"), max_length=200)
    version = models.CharField(_("version"), max_length=50, default="1.0")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    filing_number = models.CharField(_("filing number"), max_length=100, blank=True)
    internal_testing = models.BooleanField(
        _("internal testing"),
        default=False,
        help_text=_("Lets the service serve (its testers) before it is filed. Turn off for a public launch."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=("provider", "name"), name="%(app_label)s_%(class)s_unique_provider_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def may_serve(self) -> bool:
        """Filed services serve the public; others only while in internal testing."""
        return self.status == self.Status.FILED or (self.internal_testing and self.status != self.Status.DEREGISTERED)


# The safety records (risk taxonomy, thresholds, keyword library) live in their own module.
class ModelRecord(models.Model):
    """A model (net) the service runs, as declared in the filing; its code goes into every label.

    Checkpoints trained by ``generation`` point to a model record; only an approved record of a
    service that may serve (filed, or in internal testing) serves end users.
    """

    class NetType(models.TextChoices):
        GAN = "gan", _("GAN (generative adversarial network)")
        VAE = "vae", _("VAE (variational autoencoder)")
        TRANSFORMER = "transformer", _("self-attention (transformer)")

    class Approval(models.TextChoices):
        PENDING = "pending", _("pending approval")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="model_records", verbose_name=_("service")
    )
    name = models.CharField(_("model name"), max_length=200)
    version = models.CharField(_("version"), max_length=50, default="1.0")
    net_type = models.CharField(_("net type"), max_length=16, choices=NetType.choices)
    code = models.CharField(
        _("model code"),
        max_length=4,
        unique=True,
        validators=[model_code_validate],
        help_text=_("4 characters (digits and capital letters) written into the implicit label of every output."),
    )
    parameter_count = models.PositiveBigIntegerField(_("parameter count"), null=True, blank=True)
    training_framework = models.CharField(_("training framework"), max_length=100, default="PyTorch")
    base_model = models.CharField(_("base model"), max_length=200, blank=True)
    base_model_filing_number = models.CharField(_("base model filing number"), max_length=100, blank=True)
    approval = models.CharField(_("approval"), max_length=16, choices=Approval.choices, default=Approval.PENDING)
    approved_by = models.CharField(_("approved by"), max_length=150, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("model record")
        verbose_name_plural = _("model records")
        ordering = ("service", "name")

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.code})"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)


class Dataset(models.Model):
    """A body of training data and its provenance, identified by the SHA-256 of the exact bytes used."""

    class SourceType(models.TextChoices):
        OPEN_SOURCE = "open_source", _("open-source")
        SELF_COLLECTED = "self_collected", _("self-collected")
        COMMERCIAL = "commercial", _("commercial")
        USER_INPUT = "user_input", _("user input")
        SYNTHETIC = "synthetic", _("synthetic")

    class Origin(models.TextChoices):
        DOMESTIC = "domestic", _("domestic")
        OVERSEAS = "overseas", _("overseas")

    name = models.CharField(_("name"), max_length=200)
    source_type = models.CharField(_("source type"), max_length=16, choices=SourceType.choices)
    origin = models.CharField(_("domestic or overseas"), max_length=16, choices=Origin.choices)
    source = models.CharField(
        _("source"), max_length=500, help_text=_("Where the bytes come from (package, path, version).")
    )
    licence = models.CharField(_("licence"), max_length=200, blank=True)
    licence_text = models.TextField(_("licence notice"), blank=True)
    sha256 = models.CharField(_("SHA-256 fingerprint"), max_length=64, unique=True)
    items = models.PositiveBigIntegerField(_("items"), null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("size in bytes"), null=True, blank=True)
    contains_personal_information = models.BooleanField(_("contains personal information"), default=False)
    personal_information_legal_basis = models.CharField(
        _("legal basis for personal information"), max_length=300, blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"

    def clean(self) -> None:
        if self.contains_personal_information and not self.personal_information_legal_basis:
            raise ValidationError(
                {"personal_information_legal_basis": _("Give the legal basis for using personal information.")}
            )


from filing.safety.models import *  # noqa: E402, F403
