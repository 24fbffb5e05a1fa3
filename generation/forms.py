"""Forms of the end-user pages. Parameter limits come from ``generation.params`` (one source of truth)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from filing.models import Complaint
from genai_platform.hygiene import CleanTextFormMixin
from generation.enduser import REPORT_CATEGORIES
from generation.models import GENERATOR_CHOICES, Job, NetKind
from generation.params import SEED_MAX, limits
from generation.tunes import Tune


class NoSuffixForm(CleanTextFormMixin, forms.Form):
    """Labels that are whole sentences (check boxes) read badly with a colon after them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class SignUpForm(CleanTextFormMixin, UserCreationForm):  # type: ignore[type-arg]
    email = forms.EmailField(
        label=_("Email"),
        help_text=_("Used only to reset your password."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    accept_terms = forms.BooleanField(
        label=_("I have read and accept the terms of service and the privacy policy."),
        error_messages={"required": _("Please accept the terms of service and the privacy policy to sign up.")},
    )
    inputs_for_training = forms.BooleanField(
        label=_("My prompts and parameters may be used to improve the service's nets."),
        help_text=_("Optional. You can change this at any time in your account settings."),
        required=False,
    )

    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        help_text=_("Users under 18 use the service in minor mode, with a guardian's consent, where it admits minors."),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        error_messages={"invalid": _("Enter your date of birth as YYYY-MM-DD.")},
    )

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = get_user_model()
        fields = ("username", "email")

    def __init__(self, *args: Any, minors_allowed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.minors_allowed = minors_allowed
        # The date of birth comes right after the e-mail address.
        self.order_fields(["username", "email", "date_of_birth"])

    def clean_email(self) -> str:
        # Whether the address is registered is not told here (see generation.accounts.user_sign_up).
        return str(self.cleaned_data["email"]).strip()

    def clean_date_of_birth(self) -> date:
        from generation.minors import age_on, is_minor

        born: date = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born > today or age_on(born, today) > 120:
            raise forms.ValidationError(_("Enter your real date of birth."))
        if is_minor(born, today=today) and not self.minors_allowed:
            raise forms.ValidationError(
                _("This service is not open to users under 18. Please do not sign up without being of age.")
            )
        return born


class PhoneForm(CleanTextFormMixin, forms.Form):
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": "13912345678"}),
    )


class PhoneCodeForm(CleanTextFormMixin, forms.Form):
    code = forms.CharField(
        label=_("Code from the text message"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        error_messages={"min_length": _("The code has 6 digits.")},
    )


class GuardianConsentForm(NoSuffixForm):
    guardian_name = forms.CharField(label=_("Guardian's name"), max_length=100)
    guardian_phone = forms.CharField(
        label=_("Guardian's mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )
    consent = forms.BooleanField(
        label=_(
            "I am this user's parent or guardian. I have read the terms and the privacy policy, and I consent to "
            "their use of the service in minor mode."
        ),
        error_messages={"required": _("The guardian must tick the box to consent.")},
    )


class AccountCloseForm(NoSuffixForm):
    prefix = "close"  # the account page holds other forms with a "confirm" box
    password = forms.CharField(
        label=_("Your password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    confirm = forms.BooleanField(
        label=_("Yes, close my account. I understand what is deleted and what stays."),
        error_messages={"required": _("Tick the box to confirm that you want to close your account.")},
    )


class UserSettingsForm(NoSuffixForm):
    inputs_for_training = forms.BooleanField(
        label=_("Allow my prompts and parameters to be used to improve the service's nets"),
        required=False,
    )


class HistoryDeleteForm(NoSuffixForm):
    confirm = forms.BooleanField(
        label=_("Yes, delete all my generation history and its files."),
        error_messages={"required": _("Tick the box to confirm that you want to delete your history.")},
    )


def _seed_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=_("Seed"),
        required=False,
        min_value=0,
        max_value=SEED_MAX,
        help_text=_("Optional. The same seed and parameters give the same result; empty means random."),
    )


class GenerationForm(CleanTextFormMixin, forms.Form):
    """Base of the three generation forms; ``params()`` is what goes to ``job_submit``."""

    kind: str = ""

    def params(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}


class GanForm(GenerationForm):
    kind = NetKind.GAN
    prefix = "gan"
    digit = forms.TypedChoiceField(
        label=_("Digit"), choices=[(d, str(d)) for d in range(10)], coerce=int, widget=forms.RadioSelect
    )
    count = forms.IntegerField(label=_("How many images"), initial=4, min_value=1)
    seed = _seed_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit(self.fields["count"], limits().max_images)


class VaeForm(GenerationForm):
    kind = NetKind.VAE
    prefix = "vae"
    MODES = [("sample", _("Random digits")), ("interpolate", _("Morph from one seed to another"))]

    mode = forms.ChoiceField(label=_("What to make"), choices=MODES, initial="sample", widget=forms.RadioSelect)
    count = forms.IntegerField(label=_("How many images"), initial=4, min_value=1, required=False)
    seed = _seed_field()
    interpolate_to_seed = forms.IntegerField(
        label=_("Second seed"),
        required=False,
        min_value=0,
        max_value=SEED_MAX,
        help_text=_("Only for morphing: the images go step by step from the first seed to this one."),
    )
    steps = forms.IntegerField(label=_("Steps"), initial=8, min_value=2, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lim = limits()
        _limit(self.fields["count"], lim.max_images)
        _limit(self.fields["steps"], lim.max_interpolation_steps)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # A field that already has its own error (a value over the limit, say) is not also told it is missing.
        if data.get("mode") == "interpolate":
            if data.get("interpolate_to_seed") is None and "interpolate_to_seed" not in self.errors:
                self.add_error("interpolate_to_seed", _("Enter the seed to morph to."))
            if data.get("seed") is None and "seed" not in self.errors:
                self.add_error(
                    "seed", _("Morphing starts from a seed: enter one (only separate images may leave it empty).")
                )
            if data.get("steps") is None and "steps" not in self.errors:
                self.add_error("steps", _("Enter how many steps to make."))
        elif data.get("count") is None and "count" not in self.errors:
            self.add_error("count", _("Enter how many images to make."))
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["mode"] == "interpolate":
            return {"seed": data["seed"], "interpolate_to_seed": data["interpolate_to_seed"], "steps": data["steps"]}
        return {k: v for k, v in {"count": data["count"], "seed": data["seed"]}.items() if v is not None}


class LmForm(GenerationForm):
    kind = NetKind.LM
    prefix = "lm"
    tune = forms.ChoiceField(
        label=_("Tune (词牌)"),
        help_text=_("The tune fixes how many lines the piece has and how long each line is."),
    )
    opening = forms.CharField(
        label=_("Opening (optional)"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("The first characters of the piece; the model writes the rest in the tune's form."),
    )
    temperature = forms.FloatField(
        label=_("Temperature"),
        initial=0.8,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
        help_text=_("Lower is more predictable, higher is more surprising."),
    )
    top_k = forms.IntegerField(
        label=_("Top-k"),
        initial=40,
        min_value=1,
        required=False,
        help_text=_("Choose each character among the k likeliest."),
    )
    seed = _seed_field()

    def __init__(self, *args: Any, tunes: list[Tune] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lim = limits()
        self.tunes = tunes or []
        tune_field = self.fields["tune"]
        assert isinstance(tune_field, forms.ChoiceField)
        tune_field.choices = [
            (
                tune.name,
                _("%(name)s · %(pattern)s (%(n)d characters)")
                % {"name": tune.name, "pattern": tune.pattern(), "n": tune.characters},
            )
            for tune in self.tunes
        ]
        opening = self.fields["opening"]
        opening.widget.attrs["maxlength"] = str(lim.max_prompt_chars)
        opening.validators.append(MaxLengthValidator(lim.max_prompt_chars))
        _limit(self.fields["top_k"], lim.max_top_k)
        temperature = self.fields["temperature"]
        temperature.validators += [
            MinValueValidator(lim.min_temperature),
            MaxValueValidator(lim.max_temperature),
        ]
        temperature.widget.attrs.update(min=str(lim.min_temperature), max=str(lim.max_temperature))

    def params(self) -> dict[str, Any]:
        params = super().params()
        params["opening"] = self.cleaned_data.get("opening") or ""
        return params


GENERATION_FORMS: dict[str, type[GenerationForm]] = {NetKind.GAN: GanForm, NetKind.VAE: VaeForm, NetKind.LM: LmForm}


def _limit(field: forms.Field, maximum: int) -> None:
    assert isinstance(field, forms.IntegerField)
    field.max_value = maximum
    field.validators.append(MaxValueValidator(maximum))
    field.widget.attrs["max"] = str(maximum)


class ReportForm(NoSuffixForm):
    reason = forms.ChoiceField(label=_("What is wrong"), choices=REPORT_CATEGORIES, widget=forms.RadioSelect)
    details = forms.CharField(
        label=_("Details (optional)"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class HistoryFilterForm(CleanTextFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", _("all kinds")), *GENERATOR_CHOICES], required=False)
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("any status")), *Job.Status.choices], required=False)


COMPLAINT_ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024


class ComplaintForm(NoSuffixForm):
    """The open complaint form: anyone, signed in or not, can send a complaint or a personal-information request."""

    contact = forms.CharField(
        label=_("How to answer you"),
        max_length=200,
        help_text=_("A phone number or an e-mail address; it is used only to answer this complaint."),
    )
    category = forms.ChoiceField(label=_("What it is about"), choices=Complaint.Category.choices)
    pi_request = forms.ChoiceField(
        label=_("For a personal-information request: what you ask for"),
        choices=[("", "—"), *Complaint.PiRequest.choices],
        required=False,
    )
    details = forms.CharField(label=_("What happened"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5}))
    produce_id = forms.CharField(
        label=_("ProduceID of the content (optional)"),
        max_length=64,
        required=False,
        help_text=_("It is printed under every output and inside its hidden label."),
    )
    attachment = forms.FileField(
        label=_("Or a file of the content (optional)"),
        required=False,
        help_text=_("An image or text file of at most 5 MB."),
    )

    def clean_attachment(self) -> Any:
        upload = self.cleaned_data.get("attachment")
        if upload is not None and upload.size > COMPLAINT_ATTACHMENT_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("category") == Complaint.Category.PERSONAL_INFORMATION and not data.get("pi_request"):
            self.add_error("pi_request", _("Say what you ask for about your personal information."))
        return data


class ComplaintTrackForm(NoSuffixForm):
    number = forms.CharField(label=_("Complaint number"), max_length=20, help_text=_("For example TS-000042."))
    contact = forms.CharField(label=_("The contact you gave"), max_length=200)
