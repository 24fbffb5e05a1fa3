"""The facts the generative-AI service filing asks for. This app never imports ``generation``."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from filing.validators import uscc_normalise, uscc_validate


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

    def clean(self) -> None:
        try:
            self.uscc = uscc_validate(self.uscc)
        except ValidationError as exc:
            raise ValidationError({"uscc": exc.messages}) from exc

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.uscc = uscc_normalise(self.uscc)
        super().save(*args, **kwargs)


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


# The safety records (risk taxonomy, thresholds, keyword library) live in their own module.
from filing.safety.models import *  # noqa: E402, F403
