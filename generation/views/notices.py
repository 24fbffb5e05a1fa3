"""The service's notices: terms, privacy policy and their acceptance, and the complaint channel anyone can use."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from filing.models import Complaint, Document
from filing.selectors import service_public
from filing.services import complaint_create
from generation.enduser import reports_of
from generation.forms import ComplaintForm, ComplaintTrackForm
from generation.params import limits
from generation.terms import terms_accept, terms_in_force
from generation.views.common import enduser_required


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
