"""End-user pages: accounts, generate, job progress, outputs, reports, history and the service's notices.

Who: anyone for the notices, sign-up and log-in; signed-in users with the ``end_user`` role for the
rest. A user only ever reaches their own jobs and outputs; anything else is a 404.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from filing.models import Complaint, Document
from filing.selectors import service_public
from filing.services import complaint_create
from genai_platform.roles import Role, user_has_role
from generation.accounts import (
    ClosureError,
    closure_cancel,
    closure_request,
    closure_what_stays,
    token_exists,
    token_replace,
    user_sign_up,
)
from generation.downloads import output_downloaded, output_file_response, output_unlabelled_response
from generation.enduser import (
    history_delete,
    net_unavailable_reason,
    output_report_create,
    reports_of,
    user_settings_get,
    user_settings_update,
)
from generation.enforcement import suspension_active
from generation.forms import (
    GENERATION_FORMS,
    AccountCloseForm,
    ComplaintForm,
    ComplaintTrackForm,
    GenerationForm,
    GuardianConsentForm,
    HistoryDeleteForm,
    HistoryFilterForm,
    LmForm,
    PhoneCodeForm,
    PhoneForm,
    ReportForm,
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
from generation.models import AgeDeclaration, Job, NetKind, Output
from generation.params import limits
from generation.services import (
    JobUnavailable,
    UnlabelledRefused,
    account_refusal,
    job_cancel,
    job_refuse_unavailable,
    job_submit,
    labelling_obligation_set,
    service_offering_unlabelled,
    tunes_offered,
    unlabelled_delivery_version,
)
from generation.terms import terms_accept, terms_in_force, terms_pending
from generation.throttles import JobSubmitThrottle
from generation.tunes import Tune
from generation.usage import quota_state

HISTORY_PAGE_SIZE = 10
# htmx stops polling when a response has this status (and still shows its content).
HTMX_STOP_POLLING = 286


def enduser_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Anonymous visitors go to the log-in page; signed-in users without the end_user role get a 403 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            if request.headers.get("HX-Request"):
                # A polling page whose session ended: stop polling and say so instead of showing a login page.
                page = urlparse(request.headers.get("HX-Current-URL", "")).path or "/"
                return render(request, "generation/_session_ended.html", {"next": page}, status=HTMX_STOP_POLLING)
            return redirect_to_login(request.get_full_path(), login_url=reverse("login"))
        if not user_has_role(request.user, Role.END_USER):
            return render(request, "generation/no_access.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


# ------------------------------------------------------------------------------
# Accounts
# ------------------------------------------------------------------------------
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
        return reverse("generate")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Signing in during the cooling-off period cancels a pending account closure.
        if closure_cancel(user=form.get_user(), request=self.request) is not None:
            messages.info(self.request, _("Welcome back. Closing your account has been cancelled."))
        return response


class LogoutView(auth_views.LogoutView):
    next_page = "home"


password_change = auth_views.PasswordChangeView.as_view(
    template_name="generation/account/password_change.html", success_url=reverse_lazy("password-change-done")
)
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
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="generation/account/password_reset_confirm.html", success_url=reverse_lazy("password-reset-complete")
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="generation/account/password_reset_complete.html"
)


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
            user_settings_update(user=request.user, inputs_for_training=allowed)
            messages.success(
                request,
                _("Saved: your inputs may be used to improve the nets.")
                if allowed
                else _("Saved: your inputs will not be used for training."),
            )
            return redirect("account")
    elif action == "delete_history":
        delete_form = HistoryDeleteForm(request.POST)
        if delete_form.is_valid():
            counts = history_delete(user=request.user)
            text = _("Deleted %(jobs)d jobs and %(outputs)d outputs.") % counts
            if counts["kept_running"]:
                text += " " + _("%(n)d jobs still running were kept; delete again once they finish.") % {
                    "n": counts["kept_running"]
                }
            messages.success(request, text)
            return redirect("account")
    elif action == "labelling" and labelling_service is not None:
        accepted = request.POST.get("accept") == "1"
        labelling_obligation_set(user=request.user, service=labelling_service, accepted=accepted)
        messages.success(
            request,
            _("Saved: you accepted the labelling obligation.")
            if accepted
            else _("Saved: outputs will come with the visible label only."),
        )
        return redirect("account")
    elif action == "token":
        token_key = token_replace(user=request.user)
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
        if phone_form.is_valid():
            try:
                sent = phone_code_send(user=request.user, phone_raw=phone_form.cleaned_data["phone"], request=request)
            except IdentityError as exc:
                phone_form.add_error("phone", str(exc))
            else:
                messages.success(
                    request, _("A code was sent to %(phone)s. Type it in below.") % {"phone": sent.phone_masked}
                )
                return redirect("phone-verify")
    elif action == "check":
        code_form = PhoneCodeForm(request.POST)
        if code_form.is_valid():
            try:
                verification = phone_code_check(user=request.user, code=code_form.cleaned_data["code"], request=request)
            except IdentityError as exc:
                code_form.add_error("code", str(exc))
            else:
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


# ------------------------------------------------------------------------------
# Generating
# ------------------------------------------------------------------------------
def _generation_form(
    kind: str, data: Any = None, *, initial: dict[str, Any] | None = None, tunes: list[Tune] | None = None
) -> GenerationForm:
    if kind == NetKind.LM:
        return LmForm(data, initial=initial, tunes=tunes or [])
    return GENERATION_FORMS[kind](data, initial=initial)


def _again_initial(job: Job) -> dict[str, Any]:
    """The form values that ask for ``job`` again: every parameter; the seed only where it is part of the
    request (the start of a VAE morph), so that "generate again" draws new results."""
    p = job.params
    if job.kind == NetKind.VAE and "interpolate_to_seed" in p:
        return {
            "mode": "interpolate",
            "seed": job.seed,
            "interpolate_to_seed": p["interpolate_to_seed"],
            "steps": p["steps"],
        }
    if job.kind == NetKind.VAE:
        return {"mode": "sample", "count": p.get("count")}
    if job.kind == NetKind.LM:
        return {k: p[k] for k in ("tune", "opening", "temperature", "top_k") if k in p}
    return {k: p[k] for k in ("digit", "count") if k in p}


@never_cache
@enduser_required
@require_http_methods(["GET", "POST"])
def generate(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind") if request.method == "POST" else request.GET.get("kind")
    again: Job | None = None
    if request.method == "GET" and request.GET.get("again"):
        try:
            user: Any = request.user  # an end user: enduser_required let the request through
            again = Job.objects.filter(user=user, public_id=uuid.UUID(request.GET["again"])).first()
        except ValueError:
            again = None
        if again is not None:
            kind = again.kind
    if kind not in GENERATION_FORMS:
        kind = NetKind.GAN
    tunes = tunes_offered() or []
    forms = {k: _generation_form(k, tunes=tunes) for k in GENERATION_FORMS}
    if again is not None:
        forms[kind] = _generation_form(kind, initial=_again_initial(again), tunes=tunes)
    public = service_public()
    if public is None or not public.serves(request.user):
        if request.method == "POST":
            job_refuse_unavailable(user=request.user, kind=kind, request=request)
        return render(
            request, "generation/not_open.html", {"service": public}, status=403 if request.method == "POST" else 200
        )
    reasons = {k: net_unavailable_reason(k, request.user) for k in GENERATION_FORMS}
    unavailable: str | None = None
    if (
        request.method == "POST"
        and reasons[kind]
        and job_refuse_unavailable(user=request.user, kind=kind, request=request)
    ):
        pass  # the section says why, once; the refusal is in the audit log
    elif request.method == "POST":
        form = forms[kind] = _generation_form(kind, request.POST, tunes=tunes)
        throttle = JobSubmitThrottle()
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]
            unavailable = _("You are submitting jobs too quickly. Please wait %(n)d seconds and try again.") % {
                "n": math.ceil(throttle.wait() or 1)
            }
        elif form.is_valid():
            try:
                job = job_submit(
                    user=request.user,
                    kind=kind,
                    params=form.params(),
                    idempotency_key=(request.POST.get("idempotency_key") or "")[:128] or None,
                    request=request,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except JobUnavailable as exc:
                # The section already says why a generator is unavailable: say it once.
                unavailable = None if exc.message == reasons[kind] else exc.message
            else:
                return redirect("job", public_id=job.public_id)
    quota = quota_state(user=request.user)
    suspension = suspension_active(request.user)
    sections = [
        {
            "kind": k,
            "label": NetKind(k).label,
            "form": forms[k],
            "unavailable_reason": reasons[k],
            "idempotency_key": uuid.uuid4().hex,
            "previous_seed": again.seed if again is not None and again.kind == k else None,
        }
        for k in GENERATION_FORMS
    ]
    return render(
        request,
        "generation/generate.html",
        {
            "sections": sections,
            "active": kind,
            "limits": limits(),
            "quota": quota,
            "unavailable": unavailable,
            "tunes": tunes,
            "suspension": suspension,
            "paused": public.generation_stopped_at is not None,
            "terms_pending": terms_pending(request.user),
            "account_refusal": account_refusal(request.user),
            "minor": minor_mode(request.user),
        },
        status=400 if request.method == "POST" else 200,
    )


def _own_job(request: HttpRequest, public_id: uuid.UUID) -> Job:
    return get_object_or_404(Job.objects.prefetch_related("outputs"), public_id=public_id, user=request.user)


PARAMETER_LABELS: dict[str, Any] = {
    "digit": _lazy("Digit"),
    "count": _lazy("How many images"),
    "interpolate_to_seed": _lazy("Morph to seed"),
    "steps": _lazy("Steps"),
    "tune": _lazy("Tune (词牌)"),
    "opening": _lazy("Opening"),
    "temperature": _lazy("Temperature"),
    "top_k": _lazy("Top-k"),
    "prompt": _lazy("Prompt"),
    "length": _lazy("Characters to write"),
}


def job_parameters(job: Job) -> list[tuple[str, Any]]:
    """Every parameter of ``job``, named in words, the seed last."""
    shown = [(str(PARAMETER_LABELS.get(key, key)), value) for key, value in job.params.items()]
    if job.kind == NetKind.LM and "opening" in job.params and not job.params["opening"]:
        shown = [(label, value if value else _("(none)")) for label, value in shown]
    return [*shown, (_("Seed"), job.seed)]


def queue_position(job: Job) -> int | None:
    """How many jobs wait before ``job`` and it (1: next), or None when it is not waiting."""
    if job.status != Job.Status.QUEUED:
        return None
    ahead = Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=job.created_at).count()
    return ahead + 1


def _job_context(job: Job) -> dict[str, Any]:
    """The job and its progress as steps: queued → generating → done (or how it ended instead)."""
    queued, running = ("queued", _("Queued")), ("running", _("Generating"))
    path = {
        Job.Status.QUEUED: [queued, running, ("done", _("Done"))],
        Job.Status.RUNNING: [queued, running, ("done", _("Done"))],
        Job.Status.SUCCEEDED: [queued, running, ("done", _("Done"))],
        Job.Status.FAILED: [queued, running, ("failed", _("Failed"))],
        Job.Status.CANCELLED: [queued, ("cancelled", _("Cancelled"))],
        Job.Status.REFUSED: [("refused", _("Refused"))],
    }[Job.Status(job.status)]
    keys = [key for key, _label in path]
    position = keys.index(job.status) if job.status in keys else len(keys) - 1
    return {
        "job": job,
        "outputs": list(job.outputs.all()),
        "parameters": job_parameters(job),
        "queue_position": queue_position(job),
        "steps": [
            {"key": key, "label": label, "state": "done" if i < position else "current" if i == position else "todo"}
            for i, (key, label) in enumerate(path)
        ],
    }


@never_cache
@enduser_required
@require_GET
def job_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    job = _own_job(request, public_id)
    return render(request, "generation/job.html", _job_context(job))


@never_cache
@enduser_required
@require_GET
def job_status(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The live part of the job page, polled by htmx until the job is finished."""
    job = _own_job(request, public_id)
    position = queue_position(job)
    seen = f"{job.status}:{position}" if position else job.status
    if request.GET.get("seen") == seen and not job.is_finished:
        return HttpResponse(status=204)  # nothing changed: htmx keeps the page as it is
    response = render(request, "generation/_job_live.html", _job_context(job))
    if job.is_finished:
        response.status_code = HTMX_STOP_POLLING
    return response


@enduser_required
@require_POST
def job_cancel_view(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    job = _own_job(request, public_id)
    if job_cancel(job=job):
        messages.success(request, _("The job was cancelled."))
    else:
        messages.error(request, _("This job has already started, so it can no longer be cancelled."))
    return redirect("job", public_id=job.public_id)


# ------------------------------------------------------------------------------
# Outputs and reports
# ------------------------------------------------------------------------------
def _own_output(request: HttpRequest, produce_id: str) -> Output:
    return get_object_or_404(Output.objects.select_related("job"), produce_id=produce_id, job__user=request.user)


@enduser_required
@require_GET
def output_file(request: HttpRequest, produce_id: str) -> HttpResponseBase:
    """The stored, labelled file of an output: shown inline, or downloaded with ``?download=1``."""
    output = _own_output(request, produce_id)
    if output.removed:
        return render(request, "generation/output_removed.html", {"output": output}, status=410)
    if request.GET.get("visible_label") == "0":
        try:
            return output_unlabelled_response(request=request, output=output)
        except UnlabelledRefused as exc:
            messages.error(request, exc.message)
            return redirect("job", public_id=output.job.public_id)
    download = request.GET.get("download") == "1"
    response = output_file_response(output, as_attachment=download)
    if download:
        output_downloaded(request=request, output=output)
    return response


@never_cache
@enduser_required
@require_http_methods(["GET", "POST"])
def output_report(request: HttpRequest, produce_id: str) -> HttpResponse:
    output = _own_output(request, produce_id)
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        report = output_report_create(
            user=request.user,
            output=output,
            reason=form.cleaned_data["reason"],
            details=form.cleaned_data["details"],
            channel="web",
            request=request,
        )
        messages.success(
            request,
            _("Thank you. Your report number is %(id)d; we will answer by %(due)s.")
            % {"id": report.pk, "due": date_format(timezone.localtime(report.due_at), "Y-m-d H:i")},
        )
        return redirect("job", public_id=output.job.public_id)
    return render(request, "generation/report.html", {"output": output, "form": form})


# ------------------------------------------------------------------------------
# History
# ------------------------------------------------------------------------------
@never_cache
@enduser_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    filters = HistoryFilterForm(request.GET or None)
    user: Any = request.user  # an end user: enduser_required let the request through
    jobs = Job.objects.filter(user=user).prefetch_related("outputs").order_by("-created_at", "-pk")
    if filters.is_valid():
        if filters.cleaned_data["kind"]:
            jobs = jobs.filter(kind=filters.cleaned_data["kind"])
        if filters.cleaned_data["status"]:
            jobs = jobs.filter(status=filters.cleaned_data["status"])
    page = Paginator(jobs, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "generation/history.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
    )


# ------------------------------------------------------------------------------
# Notices
# ------------------------------------------------------------------------------
def _notice_context(kind: str) -> dict[str, Any]:
    in_force = next(v for v in terms_in_force() if v.kind == kind)
    public = service_public()
    models = list(public.model_records.filter(approval="approved").order_by("net_type")) if public else []
    return {
        "version": in_force,
        "document": in_force.document,
        "paragraphs": [
            p.strip() for p in (in_force.document.body if in_force.document else "").split("\n\n") if p.strip()
        ],
        "service": public,
        "models": models,
        "limits": limits(),
        "retention_days": settings.AUDIT_RETENTION_DAYS,
    }


@require_GET
def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "generation/notices/terms.html", _notice_context(Document.Kind.SERVICE_AGREEMENT))


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "generation/notices/privacy.html", _notice_context(Document.Kind.PRIVACY_POLICY))


@enduser_required
@require_POST
def terms_accept_view(request: HttpRequest) -> HttpResponse:
    """The user accepts the terms and privacy policy in force; they may generate again."""
    versions = terms_accept(user=request.user, request=request)
    messages.success(
        request,
        _("Thank you: you accepted %(documents)s.")
        % {"documents": ", ".join(f"{v.title} {v.version}" for v in versions)},
    )
    return redirect("generate")


def _complaint_rate_exceeded(request: HttpRequest) -> bool:
    """Whether this address sent too many complaints without an account in the last hour."""
    from django.core.cache import cache

    if request.user.is_authenticated:
        return False
    key = f"complaints:anonymous:{request.META.get('REMOTE_ADDR', '')}"
    sent = cache.get_or_set(key, 0, timeout=3600)
    if sent >= settings.COMPLAINTS_ANONYMOUS_PER_HOUR:
        return True
    cache.incr(key)
    return False


@never_cache
@require_http_methods(["GET", "POST"])
def complaints(request: HttpRequest) -> HttpResponse:
    """The complaint channel: open to anyone, with the service's phone and e-mail; signed-in users also see
    their complaints and the answers."""
    form = ComplaintForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if _complaint_rate_exceeded(request):
            form.add_error(None, _("Too many complaints from this address in the last hour; please try again later."))
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            user = request.user if request.user.is_authenticated else None
            complaint = complaint_create(
                channel="web",
                complainant=user.get_username() if user is not None else data["contact"],
                category=data["category"],
                pi_request=data["pi_request"],
                details=data["details"],
                produce_id=data["produce_id"].strip(),
                contact=data["contact"],
                attachment=data["attachment"],
                user=user,
                request=request,
            )
            messages.success(
                request,
                _("Thank you. Your complaint number is %(number)s; we will answer by %(due)s.")
                % {"number": complaint.number, "due": date_format(timezone.localtime(complaint.due_at), "Y-m-d H:i")},
            )
            return redirect("complaints")
        else:
            status = 400
    reports = list(reports_of(user=request.user)[:20]) if request.user.is_authenticated else []
    return render(
        request,
        "generation/notices/complaints.html",
        {
            "form": form,
            "reports": reports,
            "response_days": settings.COMPLAINT_RESPONSE_DAYS,
            "pi_days": settings.PI_REQUEST_WORKING_DAYS,
        },
        status=status,
    )


@never_cache
@require_GET
def complaint_track(request: HttpRequest) -> HttpResponse:
    """Where a complaint stands and its answer, for whoever has its number and the contact given with it."""
    form = ComplaintTrackForm(request.GET or None)
    found = None
    if form.is_valid():
        number = form.cleaned_data["number"].strip().upper()
        prefix, _dash, digits = number.partition("-")
        if prefix in ("TS", "PI") and digits.isdigit():
            candidate = Complaint.objects.filter(pk=int(digits)).first()
            if candidate is not None and candidate.number == number and candidate.contact:
                if candidate.contact.strip().lower() == form.cleaned_data["contact"].strip().lower():
                    found = candidate
        if found is None:
            form.add_error(None, _("No complaint has this number and this contact."))
    return render(request, "generation/notices/complaint_track.html", {"form": form, "complaint": found})
