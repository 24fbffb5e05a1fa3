"""Public label surfaces: the verification key, the verify page and the verify API (no login).

Uploads are bounded before they are read: a request body over the limit is refused from its
Content-Length, an upload over the limit from its size, and Django keeps large uploads on disk
rather than in memory while parsing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.backends.django import DjangoTemplates
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_http_methods
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from genai_platform.hygiene import MultiPartParser, api_error_body
from genai_platform.openapi import error_responses
from genai_platform.roles import Role, user_has_role
from generation.labels.signing import public_key_jwks, public_key_pem
from generation.labels.verify import MAX_VERIFY_BYTES, Verdict, VerifyResult, verify_file

# Audit records listed for one ProduceID: an output has a handful (generated, downloaded, reported).
_AUDIT_RECORDS_SHOWN = 20
# Multipart framing around the file: boundaries, headers, the CSRF field.
_REQUEST_OVERHEAD_BYTES = 64 * 1024
_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _templates() -> DjangoTemplates:
    """The project's template engine plus this package's own template folder."""
    base: dict[str, Any] = settings.TEMPLATES[0]
    return DjangoTemplates(
        {
            "NAME": "labels",
            "DIRS": [_TEMPLATE_DIR, *base.get("DIRS", [])],
            "APP_DIRS": base.get("APP_DIRS", True),
            "OPTIONS": dict(base.get("OPTIONS", {})),
        }
    )


def _too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > MAX_VERIFY_BYTES + _REQUEST_OVERHEAD_BYTES


def _upload_verify(upload: UploadedFile | None) -> VerifyResult | str:
    """The verification of an uploaded file, or a sentence saying why it was not read."""
    if upload is None:
        return _("Choose a file to verify.")
    if upload.size is None or upload.size > MAX_VERIFY_BYTES:
        return _("The file is larger than the %(mb)d MB this service reads.") % {"mb": MAX_VERIFY_BYTES >> 20}
    data = upload.read(MAX_VERIFY_BYTES + 1)
    return verify_file(data, filename=upload.name)


def _audit_records(request: HttpRequest, result: VerifyResult) -> list[dict[str, Any]] | None:
    """For auditors only: the audit records of the output a genuine label of ours names.

    A label that is ours but sits on altered content still names a real output, so its records
    are shown too; a forged or foreign label names nothing the platform vouches for.
    """
    if result.verdict not in (Verdict.GENUINE, Verdict.ALTERED) or not result.produce_id:
        return None
    if not user_has_role(request.user, Role.AUDITOR):
        return None
    from audit.selectors import LogFilters  # read-only; the audit app imports nothing of ours

    entries = LogFilters(produce_id=result.produce_id).queryset().order_by("seq")[:_AUDIT_RECORDS_SHOWN]
    return [
        {
            "seq": entry.seq,
            "time": entry.created_at.isoformat(),
            "event_type": entry.event_type,
            "actor": entry.actor_username,
            "subject": entry.subject_repr,
        }
        for entry in entries
    ]


@require_GET
@cache_control(public=True, max_age=3600)
def label_keys(request: HttpRequest) -> JsonResponse:
    """The public keys that verify ReservedCode1 of the platform's labels (a JSON Web Key Set)."""
    body: dict[str, Any] = dict(public_key_jwks())
    body["pem"] = public_key_pem()
    body["reserved_code1_format"] = "v1:<kid>:<YYYYMMDDTHHMMSSZ>:<base64url sha256 of content>:<base64url Ed25519>"
    return JsonResponse(body)


@never_cache
@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    """Anyone may upload a file and learn whether it is a genuine, unaltered output of this platform."""
    context: dict[str, Any] = {"max_mb": MAX_VERIFY_BYTES >> 20, "result": None, "error": None}
    status = 200
    if request.method == "POST":
        if _too_large(request):
            context["error"] = _("The file is larger than the %(mb)d MB this service reads.") % {
                "mb": MAX_VERIFY_BYTES >> 20
            }
            status = 413
        else:
            outcome = _upload_verify(request.FILES.get("file"))
            if isinstance(outcome, str):
                context["error"] = outcome
                status = 400
            else:
                context["result"] = outcome
                context["data"] = outcome.as_dict()
                context["audit_records"] = _audit_records(request, outcome)
    template = _templates().get_template("labels/verify.html")
    return HttpResponse(template.render(context, request), status=status)


class VerifyOutputSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=[v.value for v in Verdict])
    message = serializers.CharField()
    file_type = serializers.CharField()
    produce_id = serializers.CharField(allow_null=True)
    content_producer = serializers.CharField(allow_null=True)
    model_code = serializers.CharField(allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    explicit_label = serializers.BooleanField(allow_null=True)
    label = serializers.DictField(child=serializers.CharField(), allow_null=True)
    audit_records = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Auditors only: the output's audit records."
    )


class VerifyInputSerializer(serializers.Serializer):
    file = serializers.FileField()


class LabelVerifyApi(APIView):
    """``POST`` a file (multipart field ``file``); the answer is the verdict on its label."""

    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": VerifyInputSerializer},
        responses={
            200: VerifyOutputSerializer,
            # The error body when no file came; the verdict's body when the file cannot be read as a label.
            400: OpenApiResponse(description="No file, or a file that cannot be read."),
            **error_responses(413, e413="The upload is larger than the limit."),
        },
        summary="Verify the content label of a file",
    )
    def post(self, request: Request) -> Response:
        if _too_large(request._request):
            message = _("The file is larger than the %(mb)d MB this service reads.") % {"mb": MAX_VERIFY_BYTES >> 20}
            return Response(api_error_body("too_large", message, {"file": [message]}), status=413)
        outcome = _upload_verify(request.FILES.get("file"))
        if isinstance(outcome, str):
            return Response(api_error_body("invalid", outcome, {"file": [outcome]}), status=400)
        status = 400 if outcome.verdict is Verdict.UNREADABLE else 200
        body = outcome.as_dict()
        records = _audit_records(request._request, outcome)
        if records is not None:
            body["audit_records"] = records
        return Response(body, status=status)
