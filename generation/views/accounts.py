"""Account pages: sign-up, log-in and passwords, settings, real-name verification, guardian consent, closure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from filing.selectors import service_public
from genai_platform.roles import workspace_url
from generation.accounts import (
    ClosureError,
    closure_cancel,
    closure_request,
    closure_what_stays,
    password_changed,
    token_exists,
    token_replace,
    user_sign_up,
)
from generation.enduser import history_delete, user_settings_get, user_settings_update
from generation.forms import (
    AccountCloseForm,
    GuardianConsentForm,
    HistoryDeleteForm,
    PhoneCodeForm,
    PhoneForm,
    SignUpForm,
    UserSettingsForm,
)
from generation.identity import (
    IdentityError,
    phone_code_check,
    phone_code_latest,
    phone_code_send,
    verification_of,
    verification_required,
)
from generation.minors import guardian_consent_record, minor_mode
from generation.models import AgeDeclaration
from generation.services import labelling_obligation_set, service_offering_unlabelled, unlabelled_delivery_version
from generation.usage import quota_state
from generation.views.common import enduser_required


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("generate")
    public = service_public()
    if public is None or not public.open_to_public:
        # Before the filing, only invited testers use the service: there is no open sign-up.
        return render(
            request,
            "generation/account/signup_closed.html",
            {"service": public},
            status=403 if request.method == "POST" else 200,
        )
    form = SignUpForm(request.POST or None, label_suffix="", minors_allowed=public.minors_allowed)
    if request.method == "POST" and form.is_valid():
        user = user_sign_up(
            user=form.save(commit=False),
            inputs_for_training=form.cleaned_data["inputs_for_training"],
            date_of_birth=form.cleaned_data["date_of_birth"],
            request=request,
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        # The same words whether or not the address was already registered (generation.accounts.user_sign_up).
        messages.info(request, _("We have sent a message to the email address you gave."))
        if minor_mode(user) is not None:
            messages.success(request, _("Your account is ready, in minor mode. A parent or guardian consents first."))
            return redirect("guardian-consent")
        if verification_required(user):
            messages.success(request, _("Your account is ready. Verify your mobile number to start generating."))
            return redirect("phone-verify")
        messages.success(request, _("Welcome! Your account is ready. Choose what to generate."))
        return redirect("generate")
    return render(
        request,
        "generation/account/signup.html",
        {"form": form, "service": public, "minor_age": settings.MINOR_AGE},
    )


class LoginView(auth_views.LoginView):
    template_name = "generation/account/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        # Each role to its own pages: an auditor or operator sent to the generation page would meet a 403.
        return workspace_url(self.request.user)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Signing in during the cooling-off period cancels a pending account closure.
        if closure_cancel(user=form.get_user(), request=self.request) is not None:
            messages.info(self.request, _("Welcome back. Closing your account has been cancelled."))
        return response


class LogoutView(auth_views.LogoutView):
    next_page = "home"


class PasswordSavedMixin:
    """Records the new password in the audit log once the form saved it (a reset with ``password_reset``).
    Saving it ends the API token (generation.accounts.user_pre_save)."""

    password_reset = False

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # type: ignore[misc]
        password_changed(user=form.user, request=self.request, reset=self.password_reset)  # type: ignore[attr-defined]
        return response


class PasswordChangeView(PasswordSavedMixin, auth_views.PasswordChangeView):
    template_name = "generation/account/password_change.html"
    success_url = reverse_lazy("password-change-done")


password_change = PasswordChangeView.as_view()


password_change_done = auth_views.PasswordChangeDoneView.as_view(
    template_name="generation/account/password_change_done.html"
)


password_reset = auth_views.PasswordResetView.as_view(
    template_name="generation/account/password_reset.html",
    email_template_name="generation/account/password_reset_email.txt",
    subject_template_name="generation/account/password_reset_subject.txt",
    success_url=reverse_lazy("password-reset-done"),
)


password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="generation/account/password_reset_done.html"
)


class PasswordResetConfirmView(PasswordSavedMixin, auth_views.PasswordResetConfirmView):
    template_name = "generation/account/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")
    password_reset = True


password_reset_confirm = PasswordResetConfirmView.as_view()


password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="generation/account/password_reset_complete.html"
)


def _choice_saved(request: HttpRequest, chosen: bool, said_if_chosen: str, said_if_not: str) -> HttpResponse:
    """Back to the settings page after a yes-or-no setting was saved, saying which of the two it now is."""
    messages.success(request, said_if_chosen if chosen else said_if_not)
    return redirect("account")


@never_cache
@enduser_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """Settings: consent to training use of inputs, deleting one's history, the API token."""
    current = user_settings_get(user=request.user)
    labelling_service = service_offering_unlabelled()
    settings_form = UserSettingsForm(initial={"inputs_for_training": current.inputs_for_training})
    delete_form = HistoryDeleteForm()
    close_form = AccountCloseForm()
    token_key = None
    action = request.POST.get("action")
    if action == "settings":
        settings_form = UserSettingsForm(request.POST)
        if settings_form.is_valid():
            allowed = settings_form.cleaned_data["inputs_for_training"]
            user_settings_update(user=request.user, inputs_for_training=allowed, request=request)
            return _choice_saved(
                request,
                allowed,
                _("Saved: your inputs may be used to improve the nets."),
                _("Saved: your inputs will not be used for training."),
            )
    elif action == "delete_history":
        delete_form = HistoryDeleteForm(request.POST)
        if delete_form.is_valid():
            counts = history_delete(user=request.user, request=request)
            text = _("Deleted %(jobs)d jobs and %(outputs)d outputs.") % counts
            if counts["kept_running"]:
                text += " " + _("%(n)d jobs still running were kept; delete again once they finish.") % {
                    "n": counts["kept_running"]
                }
            messages.success(request, text)
            return redirect("account")
    elif action == "labelling" and labelling_service is not None:
        accepted = request.POST.get("accept") == "1"
        labelling_obligation_set(user=request.user, service=labelling_service, accepted=accepted, request=request)
        return _choice_saved(
            request,
            accepted,
            _("Saved: you accepted the labelling obligation."),
            _("Saved: outputs will come with the visible label only."),
        )
    elif action == "token":
        token_key = token_replace(user=request.user, request=request)
    elif action == "close_account":
        close_form = AccountCloseForm(request.POST)
        if close_form.is_valid():
            try:
                password = close_form.cleaned_data["password"]
                closure = closure_request(user=request.user, password=password, request=request)
            except ClosureError as exc:
                close_form.add_error("password", str(exc))
            else:
                stays = closure_what_stays(request.user, closing_at=closure.effective_at)
                logout(request)
                return render(
                    request,
                    "generation/account/closure_requested.html",
                    {"closure": closure, "stays": stays},
                )
    return render(
        request,
        "generation/account/settings.html",
        {
            "current": current,
            "settings_form": settings_form,
            "delete_form": delete_form,
            "token_key": token_key,
            "has_token": token_exists(user=request.user),
            "labelling_service": labelling_service,
            "labelling_accepted": labelling_service is not None
            and unlabelled_delivery_version(user=request.user, service=labelling_service) is not None,
            "quota": quota_state(user=request.user),
            "close_form": close_form,
            "closure_stays": closure_what_stays(request.user),
            "cooling_off_days": settings.ACCOUNT_CLOSURE_COOLING_OFF_DAYS,
            "verification": verification_of(request.user),
            "verification_required": verification_required(request.user),
            "minor": minor_mode(request.user),
        },
    )


_T = TypeVar("_T")


def _identity_step(form: forms.Form, field: str, step: Callable[[dict[str, Any]], _T]) -> _T | None:
    """What ``step`` returns for the cleaned data of ``form``; None when the form is not valid, or when ``step``
    raised an IdentityError, which is then shown as the error of ``field``."""
    if not form.is_valid():
        return None
    try:
        return step(form.cleaned_data)
    except IdentityError as exc:
        form.add_error(field, str(exc))
        return None


@never_cache
@enduser_required
@require_http_methods(["GET", "POST"])
def phone_verify(request: HttpRequest) -> HttpResponse:
    """Real-name verification: send a one-time code to a mobile number, then type it in."""
    phone_form = PhoneForm()
    code_form = PhoneCodeForm()
    action = request.POST.get("action")
    if action == "send":
        phone_form = PhoneForm(request.POST)
        sent = _identity_step(
            phone_form,
            "phone",
            lambda data: phone_code_send(user=request.user, phone_raw=data["phone"], request=request),
        )
        if sent is not None:
            messages.success(
                request, _("A code was sent to %(phone)s. Type it in below.") % {"phone": sent.phone_masked}
            )
            return redirect("phone-verify")
    elif action == "check":
        code_form = PhoneCodeForm(request.POST)
        verification = _identity_step(
            code_form, "code", lambda data: phone_code_check(user=request.user, code=data["code"], request=request)
        )
        if verification is not None:
            messages.success(
                request,
                _("Your mobile number %(phone)s is verified. You can generate now.")
                % {"phone": verification.phone_masked},
            )
            return redirect("generate")
    return render(
        request,
        "generation/account/phone.html",
        {
            "phone_form": phone_form,
            "code_form": code_form,
            "verification": verification_of(request.user),
            "pending": phone_code_latest(request.user),
            "ttl_minutes": max(1, settings.PHONE_CODE_TTL_SECONDS // 60),
        },
        status=400 if request.method == "POST" else 200,
    )


@never_cache
@enduser_required
@require_http_methods(["GET", "POST"])
def guardian_consent(request: HttpRequest) -> HttpResponse:
    """A minor's parent or guardian consents to their use of the service (minor mode)."""
    mode = minor_mode(request.user)
    if mode is None:
        return redirect("account")
    form = GuardianConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            guardian_consent_record(
                user=request.user,
                guardian_name=form.cleaned_data["guardian_name"],
                guardian_phone=form.cleaned_data["guardian_phone"],
                request=request,
            )
        except IdentityError as exc:
            form.add_error("guardian_phone", str(exc))
        else:
            messages.success(request, _("The guardian's consent is recorded."))
            return redirect("phone-verify" if verification_required(request.user) else "generate")
    return render(
        request,
        "generation/account/guardian.html",
        {"form": form, "minor": mode, "declaration": AgeDeclaration.objects.filter(pk=request.user.pk).first()},
        status=400 if request.method == "POST" else 200,
    )
