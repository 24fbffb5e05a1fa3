from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from genai_platform import services
from genai_platform.queues import Queue
from genai_platform.roles import Role, role_required, user_has_role, workspace_url


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering. Says nothing about its dependencies (see /readyz)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable: 200; otherwise 503 with the reason for each failed check."""
    ready, body = services.readiness()
    return JsonResponse(body, status=200 if ready else 503, json_dumps_params={"ensure_ascii": False})


@never_cache
@require_http_methods(["GET", "POST"])
@role_required(Role.OPERATOR)
def heartbeat(request: HttpRequest) -> JsonResponse:
    """POST sends a heartbeat task to every queue; GET lists the last heartbeat per queue."""
    if request.method == "POST":
        sent = {queue.value: services.heartbeat_send(queue=queue) for queue in Queue}
        return JsonResponse({"sent": sent}, status=202)
    rows = services.heartbeats_all()
    return JsonResponse(
        {hb.queue: {"hostname": hb.hostname, "seen_at": hb.seen_at.isoformat(), "task_id": hb.task_id} for hb in rows}
    )


@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico on every site: the platform's icon, from its static files."""
    return HttpResponsePermanentRedirect(static("genai_platform/favicon.svg"))


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: the API's JSON error body under /api/ and /audit/api/; elsewhere a page of the site that says where the
    user's own pages are (an operator who follows a link to a page only superusers may open, say)."""
    if request.path.startswith(("/api/", "/audit/api/")):
        from django.utils.translation import gettext as _

        message = _("You do not have permission to do this.")
        return JsonResponse({"error": {"code": "permission_denied", "message": message, "fields": {}}}, status=403)
    return render(request, "403.html", {"workspace_url": workspace_url(request.user)}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: the API's JSON error body under /api/ and /audit/api/, Django's page elsewhere."""
    if request.path.startswith(("/api/", "/audit/api/")):
        from django.utils.translation import gettext as _

        return JsonResponse(
            {"error": {"code": "not_found", "message": _("There is nothing at this address."), "fields": {}}},
            status=404,
        )
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Exception())


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "genai_platform/home.html",
        {"workspace_url": workspace_url(request.user), "generates": user_has_role(request.user, Role.END_USER)},
    )
