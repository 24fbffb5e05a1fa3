"""The facts the generative-AI service filing asks for. This app never imports ``generation``."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from filing.history import HistoryModel
from filing.models.four_eyes import SignedOffRecord
from filing.validators import model_code_validate, uscc_normalise, uscc_validate


class Provider(HistoryModel):
    """The filing subject (备案主体): the organisation that provides the service."""

    class Nature(models.TextChoices):
        PRIVATE = "private", _("private enterprise")
        STATE_OWNED = "state_owned", _("state-owned enterprise")
        FOREIGN = "foreign", _("foreign-invested enterprise")
        JOINT = "joint", _("joint venture")
        PUBLIC_INSTITUTION = "public_institution", _("public institution")
        OTHER = "other", _("other")

    legal_name = models.CharField(
        _("legal name"), max_length=200, unique=True, help_text=_("Exactly as on the business licence.")
    )
    uscc = models.CharField(
        _("unified social credit code"),
        max_length=18,
        unique=True,
        help_text=_("18 characters, checked against the GB 32100 check character."),
    )
    registered_address = models.CharField(_("registered address"), max_length=300, blank=True)
    office_address = models.CharField(_("office address"), max_length=300, blank=True)
    legal_representative = models.CharField(_("legal representative"), max_length=100, blank=True)
    safety_lead = models.CharField(
        _("safety-assessment lead"),
        max_length=100,
        blank=True,
        help_text=_("Signs the filing form and the commitment page with the legal representative."),
    )
    safety_lead_phone = models.CharField(_("safety lead phone"), max_length=50, blank=True)
    safety_lead_email = models.EmailField(_("safety lead e-mail"), blank=True)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    nature = models.CharField(_("company nature"), max_length=20, choices=Nature.choices, blank=True)
    parent_company = models.CharField(_("parent company"), max_length=200, blank=True)
    industry_regulator = models.CharField(_("industry regulator"), max_length=200, blank=True)
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


class Service(SignedOffRecord):
    """A generative-AI service offered to the public, and where it stands in the filing."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SELF_ASSESSED = "self_assessed", _("self-assessed")
        SUBMITTED = "submitted", _("submitted")
        FILED = "filed", _("filed")
        RETURNED = "returned", _("returned")
        CHANGE_PENDING = "change_pending", _("change pending")
        DEREGISTERED = "deregistered", _("deregistered")

    class MainFunction(models.TextChoices):
        DIALOGUE = "dialogue", _("human-machine dialogue")
        TEXT = "text", _("text generation")
        IMAGE = "image", _("image generation")
        VOICE = "voice", _("voice synthesis")
        VIDEO = "video", _("video synthesis")
        CODE = "code", _("code generation or optimisation")

    class Domain(models.TextChoices):
        GENERAL = "general", _("general")
        RESTRICTED = "restricted", _("restricted to a domain")

    class Route(models.TextChoices):
        FILING = "filing", _("filing (own or fine-tuned models)")
        REGISTRATION = "registration", _("registration (only calls a filed model)")

    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="services", verbose_name=_("provider")
    )
    name = models.CharField(_("service name"), max_length=200)
    version = models.CharField(_("version"), max_length=50, default="1.0")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    filing_number = models.CharField(
        _("filing number"),
        max_length=100,
        blank=True,
        help_text=_("Filing number (备案号) or, for a registration, the launch number (上线编号)."),
    )
    filed_on = models.DateField(_("filed on"), null=True, blank=True)
    returned_reason = models.TextField(_("reason for return"), blank=True)
    algorithm_filing_number = models.CharField(_("algorithm filing number"), max_length=100, blank=True)
    form_web = models.BooleanField(_("web"), default=False)
    form_app = models.BooleanField(_("app"), default=False)
    form_api = models.BooleanField(_("API"), default=False)
    form_mini_program = models.BooleanField(_("mini-program"), default=False)
    main_function = models.CharField(_("main function"), max_length=16, choices=MainFunction.choices, blank=True)
    domain = models.CharField(_("domain"), max_length=16, choices=Domain.choices, default=Domain.GENERAL)
    restricted_domain = models.CharField(
        _("restricted domain"), max_length=200, blank=True, help_text=_("For example medical, finance, education.")
    )
    target_users = models.CharField(_("target users"), max_length=300, blank=True)
    scenarios = models.TextField(_("scenarios"), blank=True)
    minors_allowed = models.BooleanField(
        _("minors may use it"),
        default=False,
        help_text=_(
            "If ticked, users under 18 may sign up and use it in minor mode (a daily limit, no use at night, "
            "stricter content checks, guardian consent); if not, sign-up refuses them."
        ),
    )
    real_name_required = models.BooleanField(
        _("real-name verification required"),
        default=True,
        help_text=_("Users verify a mobile number with a one-time code before they can generate."),
    )
    service_boundary = models.TextField(
        _("service boundary"), blank=True, help_text=_("Which questions it answers, and how it refuses the rest.")
    )
    public_url = models.URLField(_("public URL"), blank=True)
    launch_date = models.DateField(_("launch or public-test date"), null=True, blank=True)
    route = models.CharField(_("route"), max_length=16, choices=Route.choices, default=Route.FILING)
    called_model_name = models.CharField(_("called model name"), max_length=200, blank=True)
    called_model_filer = models.CharField(_("called model filer"), max_length=200, blank=True)
    called_model_number = models.CharField(_("called model filing number"), max_length=100, blank=True)
    annotation_not_applicable_reason = models.TextField(
        _("why annotation rules do not apply"),
        blank=True,
        help_text=_(
            "Only when the service has no annotation rules: why corpus annotation does not apply to it. The filing "
            "package's 附件3 then reads 不涉及 with this reason."
        ),
    )
    inference_concurrency = models.PositiveIntegerField(
        _("inference concurrency"), null=True, blank=True, help_text=_("Requests the service can serve at once.")
    )
    complaint_email = models.EmailField(_("complaint e-mail"), blank=True)
    complaint_phone = models.CharField(_("complaint phone"), max_length=50, blank=True)
    complaint_url = models.URLField(_("complaint page"), blank=True)
    internal_testing = models.BooleanField(
        _("internal testing"),
        default=False,
        help_text=_("Lets the service serve (its testers) before it is filed. Turn off for a public launch."),
    )
    unlabelled_delivery = models.BooleanField(
        _("offer content without the visible label"),
        default=False,
        help_text=_(
            "Users who accept the labelling obligation in their account may download outputs without the "
            "visible label (the implicit label stays). Every such download is logged (Labeling Measures Art 9)."
        ),
    )
    labelling_obligation_version = models.CharField(
        _("labelling obligation version"),
        max_length=50,
        default="1",
        help_text=_("Version of the labelling obligation users accept; change it when its wording changes."),
    )
    is_public = models.BooleanField(
        _("the public service"),
        default=False,
        editable=False,
        help_text=_(
            "The one service the site presents to the public: its name, provider, filing number and model "
            "records are what every page, label and audit record names. Chosen with the admin action."
        ),
    )
    generation_stopped_at = models.DateTimeField(_("generation stopped at"), null=True, blank=True, editable=False)
    generation_stop_reason = models.TextField(_("why generation was stopped"), blank=True, editable=False)
    generation_stopped_by = models.CharField(_("generation stopped by"), max_length=150, blank=True, editable=False)
    testers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="services_testing",
        verbose_name=_("testers"),
        help_text=_("Accounts that may use the service while it is in internal testing, before it is filed."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Who may use it before it is filed is not part of the filing: changing it is no change for four eyes.
    not_signed_off = ("internal_testing", "testers")

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(fields=("provider", "name"), name="%(app_label)s_%(class)s_unique_provider_name"),
            models.UniqueConstraint(
                fields=("is_public",), condition=Q(is_public=True), name="%(app_label)s_%(class)s_one_public"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def open_to_public(self) -> bool:
        """Filed (or registered) with its number, also while a change is pending: it serves everyone."""
        return self.status in (self.Status.FILED, self.Status.CHANGE_PENDING) and bool(self.filing_number.strip())

    @property
    def in_internal_testing(self) -> bool:
        """Not open to the public, but serving the accounts on its tester list."""
        return not self.open_to_public and self.internal_testing and self.status != self.Status.DEREGISTERED

    @property
    def may_serve(self) -> bool:
        """Whether it serves anyone: the public once filed, or its testers in internal testing."""
        return self.open_to_public or self.in_internal_testing

    def serves(self, user: Any) -> bool:
        """Whether ``user`` may use the service now: anyone once it is open, testers while in internal testing."""
        if self.open_to_public:
            return True
        if not self.in_internal_testing or user is None or getattr(user, "pk", None) is None:
            return False
        return self.testers.filter(pk=user.pk).exists()

    @property
    def service_forms(self) -> list[str]:
        names = (("form_web", _("web")), ("form_app", _("app")), ("form_api", _("API")))
        forms = [str(label) for attr, label in names if getattr(self, attr)]
        if self.form_mini_program:
            forms.append(str(_("mini-program")))
        return forms

    @property
    def complaint_channel_set(self) -> bool:
        return bool(self.complaint_email or self.complaint_phone or self.complaint_url)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.domain == self.Domain.RESTRICTED and not self.restricted_domain:
            errors["restricted_domain"] = _("Name the domain the service is restricted to.")
        if self.route == self.Route.REGISTRATION:
            for name in ("called_model_name", "called_model_filer", "called_model_number"):
                if not getattr(self, name):
                    errors[name] = _("A registration names the filed model it calls: its name, filer and number.")
        if errors:
            raise ValidationError(errors)


class ServiceTransition(models.Model):
    """One step of a service through the filing workflow: who moved it, when, and why."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="transitions", verbose_name=_("service")
    )
    from_status = models.CharField(_("from"), max_length=20, choices=Service.Status.choices)
    to_status = models.CharField(_("to"), max_length=20, choices=Service.Status.choices)
    actor = models.CharField(_("by"), max_length=150)
    at = models.DateTimeField(_("at"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ("service", "at", "pk")

    def __str__(self) -> str:
        return f"{self.service}: {self.from_status} → {self.to_status}"


class ModelRecord(SignedOffRecord):
    """A model (net) the service runs, as declared in the filing; its code goes into every label.

    Checkpoints trained by ``generation`` point to a model record; only an approved record of a
    service that may serve (filed, or in internal testing) serves end users.
    """

    class NetType(models.TextChoices):
        GAN = "gan", _("GAN (generative adversarial network)")
        VAE = "vae", _("VAE (variational autoencoder)")
        TRANSFORMER = "transformer", _("self-attention (transformer)")
        CLASSIFIER = "classifier", _("text classifier (content moderation)")

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
        validators=[model_code_validate],  # type: ignore[list-item]  # returns the normalised code
        help_text=_("4 characters (digits and capital letters) written into the implicit label of every output."),
    )
    parameter_count = models.PositiveBigIntegerField(_("parameter count"), null=True, blank=True)
    training_framework = models.CharField(_("training framework"), max_length=100, default="PyTorch")
    base_model = models.CharField(_("base model"), max_length=200, blank=True)
    base_model_filing_number = models.CharField(_("base model filing number"), max_length=100, blank=True)
    approval = models.CharField(_("approval"), max_length=16, choices=Approval.choices, default=Approval.PENDING)
    approved_by = models.CharField(_("decided by"), max_length=150, blank=True)
    approved_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    generation_stopped_at = models.DateTimeField(_("generation stopped at"), null=True, blank=True, editable=False)
    generation_stop_reason = models.TextField(_("why generation was stopped"), blank=True, editable=False)
    generation_stopped_by = models.CharField(_("generation stopped by"), max_length=150, blank=True, editable=False)
    development = models.CharField(
        _("how it was built"),
        max_length=200,
        blank=True,
        help_text=_("Self-developed, on an open-source base, fine-tuned, retrieval-augmented ..."),
    )
    base_model_licence = models.CharField(_("base model licence"), max_length=200, blank=True)
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


class Dataset(HistoryModel):
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

    class SafetyStatus(models.TextChoices):
        UNCHECKED = "unchecked", _("not checked")
        IN_REVIEW = "in_review", _("check in review")
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed: unusable")

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
    collection_start = models.DateField(_("collected from"), null=True, blank=True)
    collection_end = models.DateField(_("collected until"), null=True, blank=True)
    language_share = models.CharField(
        _("language share"), max_length=200, blank=True, help_text=_("For example: zh 70%, en 30%.")
    )
    annotated = models.BooleanField(
        _("annotated"),
        default=False,
        help_text=_(
            "Labelled by the provider or for it (TC260-003 §5.3): the filing then needs its annotation rules, "
            "annotators, batches and spot checks."
        ),
    )
    safety_status = models.CharField(
        _("source safety"),
        max_length=16,
        choices=SafetyStatus.choices,
        default=SafetyStatus.UNCHECKED,
        editable=False,
        help_text=_("Set by the source safety check; a failed dataset may not be trained on."),
    )
    check_exempt_reason = models.TextField(
        _("why it needs no source safety check"),
        blank=True,
        editable=False,
        help_text=_(
            "An exemption from the source safety check, written by the person who records it (for example an "
            "openly licensed public data set). Without a passed check or this reason, training refuses the dataset."
        ),
    )
    check_exempt_by = models.CharField(_("exemption recorded by"), max_length=150, blank=True, editable=False)
    check_exempt_at = models.DateTimeField(_("exemption recorded at"), null=True, blank=True, editable=False)
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="datasets",
        verbose_name=_("services"),
        help_text=_("The services that use it. It is listed in their 语料来源表 with their other datasets."),
    )
    model_records = models.ManyToManyField(
        ModelRecord,
        blank=True,
        related_name="datasets",
        verbose_name=_("model records"),
        help_text=_("The model records trained or tuned on it (besides the training runs that name it)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"

    @property
    def check_exempt(self) -> bool:
        """Whether an exemption from the source safety check is recorded (a written reason)."""
        return bool(self.check_exempt_reason.strip())

    def clean(self) -> None:
        if self.contains_personal_information and not self.personal_information_legal_basis:
            raise ValidationError(
                {"personal_information_legal_basis": _("Give the legal basis for using personal information.")}
            )
        if self.collection_start and self.collection_end and self.collection_end < self.collection_start:
            raise ValidationError({"collection_end": _("The collection ends before it starts.")})
