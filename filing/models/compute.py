"""What a service runs on and what it depends on: the compute of the 上线备案表 (training and inference servers and
accelerators, cloud, location) and the supply-chain security assessment (TC260-003 §7 e)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from filing.history import HistoryModel


class ComputeResource(HistoryModel):
    """One kind of server a service trains or serves on, as the 上线备案表 asks for it."""

    class Purpose(models.TextChoices):
        TRAINING = "training", _("training")
        INFERENCE = "inference", _("inference")

    service = models.ForeignKey(
        "filing.Service", on_delete=models.CASCADE, related_name="compute", verbose_name=_("service")
    )
    purpose = models.CharField(_("used for"), max_length=16, choices=Purpose.choices)
    server = models.CharField(_("server (brand and model)"), max_length=200)
    accelerator = models.CharField(
        _("accelerator (brand and model)"), max_length=200, blank=True, help_text=_("Empty: CPU only.")
    )
    accelerator_count = models.PositiveIntegerField(_("accelerators"), default=0)
    domestic = models.BooleanField(_("domestic hardware"), default=False)
    cloud_provider = models.CharField(
        _("cloud provider"), max_length=200, blank=True, help_text=_("Empty: the provider's own servers.")
    )
    location = models.CharField(_("location of the servers"), max_length=200)
    servers = models.PositiveIntegerField(_("servers"), default=1)

    class Meta:
        verbose_name = _("compute resource")
        verbose_name_plural = _("compute resources")
        ordering = ("service", "purpose", "pk")

    def __str__(self) -> str:
        return f"{self.get_purpose_display()}: {self.server}"


class SupplyChainItem(HistoryModel):
    """One component the service depends on, assessed for supply-chain security (TC260-003 §7 e)."""

    class Kind(models.TextChoices):
        BASE_MODEL = "base_model", _("base model")
        FRAMEWORK = "framework", _("software framework or library")
        HARDWARE = "hardware", _("hardware")
        CLOUD = "cloud", _("cloud service")
        DATA = "data", _("data supplier")
        OTHER = "other", _("other")

    class Conclusion(models.TextChoices):
        ACCEPTABLE = "acceptable", _("acceptable")
        WITH_MEASURES = "with_measures", _("acceptable with the measures described")
        NOT_ACCEPTABLE = "not_acceptable", _("not acceptable")

    service = models.ForeignKey(
        "filing.Service", on_delete=models.CASCADE, related_name="supply_chain", verbose_name=_("service")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("component"), max_length=200)
    supplier = models.CharField(_("supplier"), max_length=200)
    domestic = models.BooleanField(_("domestic supplier"), default=False)
    assessment = models.TextField(
        _("risks and measures"),
        help_text=_(
            "What could fail or be withdrawn (supply stopped, licence changed, vulnerability) and what "
            "the provider does about it."
        ),
    )
    conclusion = models.CharField(_("conclusion"), max_length=16, choices=Conclusion.choices)
    assessed_on = models.DateField(_("assessed on"))

    class Meta:
        verbose_name = _("supply-chain item")
        verbose_name_plural = _("supply-chain items")
        ordering = ("service", "kind", "name")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"
