"""Generating: the generate page, a job's page and its live status, outputs, reports of outputs, history.

A user only ever reaches their own jobs and outputs; anything else is a 404.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from filing.selectors import service_public
from generation.downloads import output_delivery
from generation.enduser import job_page, jobs_of, net_unavailable_reason, output_report_create, outputs_of
from generation.enforcement import suspension_active
from generation.forms import GENERATION_FORMS, GenerationForm, HistoryFilterForm, LmForm, ReportForm
from generation.minors import minor_mode
from generation.models import Job, NetKind, Output
from generation.params import limits
from generation.queueing import QueuePlace, queue_place, queue_place_at, queue_position, wait_words
from generation.services import (
    IdempotencyKeyReused,
    JobUnavailable,
    UnlabelledRefused,
    account_refusal,
    job_cancel,
    job_refuse_unavailable,
    job_submit,
    tunes_offered,
)
from generation.terms import terms_pending
from generation.throttles import JobSubmitThrottle
from generation.tunes import Tune
from generation.usage import quota_state
from generation.views.common import HTMX_STOP_POLLING, enduser_required

HISTORY_PAGE_SIZE = 10


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
    retry_after: int | None = None
    refused_status = 400
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
            except IdempotencyKeyReused:
                # A form sent before (the browser's back button) and changed: the page below has a fresh key.
                unavailable = _("This form was already sent with other values. Check them and send it again.")
            except JobUnavailable as exc:
                # The section already says why a generator is unavailable: say it once.
                unavailable = None if exc.message == reasons[kind] else exc.message
                if exc.code == "broker_unavailable":  # nothing was stored: the same form may be sent again
                    retry_after, refused_status = settings.OUTAGE_RETRY_AFTER_SECONDS, 503
                elif exc.code == "busy":  # the job queue is full; the message says when to try again
                    retry_after, refused_status = exc.retry_after, 429
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
    response = render(
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
        status=refused_status if request.method == "POST" else 200,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _own_job(request: HttpRequest, public_id: uuid.UUID) -> Job:
    return get_object_or_404(jobs_of(user=request.user), public_id=public_id)


PARAMETER_LABELS: dict[str, Any] = {
    "digit": gettext_lazy("Digit"),
    "count": gettext_lazy("How many images"),
    "interpolate_to_seed": gettext_lazy("Morph to seed"),
    "steps": gettext_lazy("Steps"),
    "tune": gettext_lazy("Tune (词牌)"),
    "opening": gettext_lazy("Opening"),
    "temperature": gettext_lazy("Temperature"),
    "top_k": gettext_lazy("Top-k"),
    "prompt": gettext_lazy("Prompt"),
    "length": gettext_lazy("Characters to write"),
}


def job_parameters(job: Job) -> list[tuple[str, Any]]:
    """Every parameter of ``job``, named in words, the seed last."""
    shown = [(str(PARAMETER_LABELS.get(key, key)), value) for key, value in job.params.items()]
    if job.kind == NetKind.LM and "opening" in job.params and not job.params["opening"]:
        shown = [(label, value if value else _("(none)")) for label, value in shown]
    return [*shown, (_("Seed"), job.seed)]


def _job_context(job: Job, place: QueuePlace | None) -> dict[str, Any]:
    """The job and its progress as steps: queued → generating → done (or how it ended instead), with a queued
    job's ``place`` in the queue and when it should start."""
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
        "queue_position": place.position if place else None,
        "starts_in": wait_words(place.estimated_start_seconds) if place and place.estimated_start_seconds else None,
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
    poll = {
        "poll_first_ms": round(settings.GENERATION_JOB_POLL_FIRST_SECONDS * 1000),
        "poll_max_ms": round(settings.GENERATION_JOB_POLL_MAX_SECONDS * 1000),
    }
    return render(request, "generation/job.html", _job_context(job, queue_place(job)) | poll)


@never_cache
@enduser_required
@require_GET
def job_status(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The live part of the job page, polled by htmx until the job is finished."""
    job = _own_job(request, public_id)
    position = queue_position(job)
    # The start estimate moves with every job the queue finishes; only a new place counts as a change, so that a
    # waiting page still asks less and less often. The estimate is read again whenever the place moves.
    seen = f"{job.status}:{position}" if position else job.status
    if request.GET.get("seen") == seen and not job.is_finished:
        return HttpResponse(status=204)  # nothing changed: htmx keeps the page as it is
    place = queue_place_at(position) if position else None
    response = render(request, "generation/_job_live.html", _job_context(job, place))
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


def _own_output(request: HttpRequest, produce_id: str) -> Output:
    return get_object_or_404(outputs_of(user=request.user), produce_id=produce_id)


@enduser_required
@require_GET
def output_file(request: HttpRequest, produce_id: str) -> HttpResponseBase:
    """The stored, labelled file of an output: shown inline, or downloaded with ``?download=1``."""
    output = _own_output(request, produce_id)
    if output.removed:
        return render(request, "generation/output_removed.html", {"output": output}, status=410)
    try:
        return output_delivery(
            request=request,
            output=output,
            visible_label=request.GET.get("visible_label") != "0",
            as_attachment=request.GET.get("download") == "1",
        )
    except UnlabelledRefused as exc:
        messages.error(request, exc.message)
        return redirect("job", public_id=output.job.public_id)


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
            _("Thank you. Your report number is %(number)s; we will answer by %(due)s.")
            % {"number": report.number, "due": date_format(timezone.localtime(report.due_at), "Y-m-d H:i")},
        )
        return redirect("job", public_id=output.job.public_id)
    return render(request, "generation/report.html", {"output": output, "form": form})


@never_cache
@enduser_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    filters = HistoryFilterForm(request.GET or None)
    user: Any = request.user  # an end user: enduser_required let the request through
    jobs = jobs_of(user=user, **filters.cleaned_data) if filters.is_valid() else jobs_of(user=user)
    page = job_page(jobs=jobs, cursor=request.GET.get("before", ""), size=HISTORY_PAGE_SIZE)
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "generation/history.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
    )
