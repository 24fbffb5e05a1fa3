"""End-user REST API (``/api/v1/``): nets, jobs, outputs, reports and tokens.

Who: signed-in users with the ``end_user`` role (token or session). A user only ever sees their
own jobs and outputs: anything else answers 404, so the API never tells whether it exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth import authenticate
from django.db.models import F, QuerySet
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from filing.models import Complaint
from genai_platform.authentication import RoleTokenAuthentication
from genai_platform.hygiene import JSONParser
from genai_platform.openapi import error_responses
from genai_platform.roles import HasRole, Role
from generation.accounts import token_issue, token_revoke
from generation.api import serializers as s
from generation.api.errors import Conflict, Gone
from generation.downloads import output_delivery
from generation.enduser import (
    job_just_made,
    jobs_of,
    net_unavailable_reason,
    output_report_create,
    outputs_of,
    reports_of,
)
from generation.models import GENERATOR_KINDS, Job, NetKind, Output
from generation.params import limits
from generation.services import UnlabelledRefused, job_cancel, job_submit, tunes_offered
from generation.throttles import EndUserThrottle, JobCreateThrottle, TokenThrottle
from generation.usage import quota_state

View = TypeVar("View", bound=Callable[..., Any])

IDEMPOTENCY_KEY_MAX = 128
# Every operation of an end user: not signed in, no end_user role, too many requests.
COMMON_ERRORS = error_responses(401, 403, 429, e403="Signed in without the end_user role.")
# A list: a bad filter, a page past the end.
LIST_ERRORS = COMMON_ERRORS | error_responses(400, 404, e400="A bad filter or page size.", e404="No such page.")
DETAIL_ERRORS = COMMON_ERRORS | error_responses(404, e404="No such object of yours.")


def own_records_schema(
    *,
    listed: str,
    filters: list[OpenApiParameter],
    item: type[serializers.Serializer],
    one: str,
    detail: type[serializers.Serializer],
) -> Callable[[View], View]:
    """The schema of a list of the caller's own records and of one of them: each operation's summary, the list's
    ``filters``, the serializers of a listed ``item`` and of one record read alone, and the errors each answers."""
    return extend_schema_view(
        list=extend_schema(summary=listed, parameters=filters, responses={200: item(many=True), **LIST_ERRORS}),
        retrieve=extend_schema(summary=one, responses={200: detail, **DETAIL_ERRORS}),
    )


# ------------------------------------------------------------------------------
# Throttles, pagination, permissions
# ------------------------------------------------------------------------------
class Pagination(PageNumberPagination):
    """Numbered pages with a count, for the short lists (a user's reports)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class NewestFirst(CursorPagination):
    """Jobs and outputs, newest first, by cursor: no COUNT over a long history, and a page as quick to find
    at the end of ten thousand jobs as at the start (the (user, newest first) index serves it)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")


class OutputsNewestFirst(NewestFirst):
    """Outputs: the newest job's first, in their order within a job. Ordered by their job's creation, so the
    jobs' (user, newest first) index finds the page without sorting all of a user's outputs."""

    ordering = ("-job_created_at", "index")


END_USER_PERMISSIONS = [IsAuthenticated, HasRole.of(Role.END_USER)]


class EndUserApi:
    # Token first, so that an anonymous call gets 401 with "WWW-Authenticate: Token".
    authentication_classes = [RoleTokenAuthentication, SessionAuthentication]
    permission_classes = END_USER_PERMISSIONS
    throttle_classes = [EndUserThrottle]


# ------------------------------------------------------------------------------
# Nets
# ------------------------------------------------------------------------------
PARAMETER_HELP = {
    NetKind.GAN: {
        "digit": "0-9",
        "count": "images, 1 to limits.max_images",
        "seed": "optional, 0 to 2147483647",
    },
    NetKind.VAE: {
        "count": "images, 1 to limits.max_images (random samples)",
        "seed": "optional, 0 to 2147483647",
        "interpolate_to_seed": "optional: interpolate from seed to this seed",
        "steps": "images along the interpolation, 2 to limits.max_interpolation_steps",
    },
    NetKind.LM: {
        "tune": "the tune (词牌) of the piece: one of this net's tunes",
        "opening": "optional first characters of the piece, up to limits.max_prompt_chars, fitting the tune's lines",
        "temperature": "limits.min_temperature to limits.max_temperature",
        "top_k": "1 to limits.max_top_k",
        "seed": "optional, 0 to 2147483647",
    },
}


class NetsApi(EndUserApi, APIView):
    @extend_schema(
        operation_id="nets_list",
        summary="Kinds of generation, whether each is available now, the limits and the caller's daily quota.",
        responses={200: s.NetsSerializer, **COMMON_ERRORS},
    )
    def get(self, request: Request) -> Response:
        state = quota_state(user=request.user)
        reasons = {kind: net_unavailable_reason(kind.value, request.user) for kind in GENERATOR_KINDS}
        tunes = [
            {"name": t.name, "form": list(t.form), "pattern": t.pattern(), "characters": t.characters}
            for t in tunes_offered() or []
        ]
        body = {
            "nets": [
                {
                    "kind": kind.value,
                    "name": str(kind.label),
                    "available": reasons[kind] is None,
                    "unavailable_reason": reasons[kind] or "",
                    "parameters": PARAMETER_HELP[kind],
                    "tunes": tunes if kind == NetKind.LM else [],
                }
                for kind in GENERATOR_KINDS
            ],
            "limits": vars(limits()),
            "quota": {
                "limit": state.limit,
                "used": state.used,
                "remaining": state.remaining,
                "resets_at": state.resets_at,
            },
        }
        return Response(s.NetsSerializer(body).data)


# ------------------------------------------------------------------------------
# Jobs
# ------------------------------------------------------------------------------
@own_records_schema(
    listed="The caller's jobs, newest first.",
    filters=[
        OpenApiParameter("kind", OpenApiTypes.STR, enum=[kind.value for kind in GENERATOR_KINDS]),
        OpenApiParameter("status", OpenApiTypes.STR, enum=Job.Status.values),
    ],
    item=s.JobSerializer,
    one="One of the caller's jobs, with its outputs once it succeeded, or its place in the queue.",
    detail=s.JobDetailSerializer,
)
class JobViewSet(EndUserApi, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.JobSerializer
    pagination_class = NewestFirst
    lookup_field = "public_id"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    throttle_classes = [EndUserThrottle, JobCreateThrottle]
    # A job is created from JSON only: a form-encoded or multipart body is a 415.
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[Job]:
        # Only the caller's own jobs: another user's job id resolves to 404.
        return jobs_of(user=self.request.user)

    def get_serializer_class(self) -> type[s.JobSerializer]:
        # A queued job's place costs two counts: given when one job is read, not for each job of a list.
        return s.JobDetailSerializer if self.action == "retrieve" else s.JobSerializer

    def filter_queryset(self, queryset: QuerySet[Job]) -> QuerySet[Job]:
        if self.action != "list":
            return queryset
        filters = s.JobFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return queryset.filter(**filters.validated_data)

    @extend_schema(
        summary="Submit a generation job.",
        description=(
            "The job is queued and runs on a worker; poll the job until its status is succeeded, failed, "
            "refused or cancelled. A job refused by moderation is returned with status 'refused' and the "
            "reason. Send an Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header) so that a "
            "retried request returns the first job (200) instead of creating a second one. The same key with "
            "a different body answers 422. Requests racing with one key wait for the first to be stored; "
            "exactly one answers 201, the others 200 with the same job. A key expires after "
            "GENAI_IDEMPOTENCY_KEY_HOURS (24 by default); then it makes a new job."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        request=s.JobCreateSerializer,
        responses={
            201: OpenApiResponse(s.JobSerializer, description="The job, stored and queued (or refused)."),
            200: OpenApiResponse(s.JobSerializer, description="The job an earlier request with this key created."),
            **COMMON_ERRORS,
            **error_responses(
                400,
                403,
                413,
                415,
                422,
                429,
                503,
                e400="Invalid parameters, per field.",
                e403="No end_user role, or the account may not generate now (suspended, terms, verification).",
                e413="The request body is larger than the limit.",
                e415="The body is not JSON.",
                e422="The Idempotency-Key was already used with a different body.",
                e429=(
                    "Too many requests, the daily quota is used up, or the service is busy (code busy: the job queue "
                    "is full; nothing was stored, send the request again after Retry-After)."
                ),
                e503=(
                    "This kind of generation is not available now, or the job queue cannot be reached "
                    "(code broker_unavailable, with Retry-After: nothing was stored, send the request again)."
                ),
            ),
        },
    )
    def create(self, request: Request) -> Response:
        data = s.JobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = (request.headers.get("Idempotency-Key") or "").strip() or None
        if key and len(key) > IDEMPOTENCY_KEY_MAX:
            raise serializers.ValidationError(
                {"Idempotency-Key": [_("Use at most %(n)d characters.") % {"n": IDEMPOTENCY_KEY_MAX}]}
            )
        job = job_submit(
            user=request.user,
            kind=data.validated_data["kind"],
            params=data.validated_data["params"],
            idempotency_key=key,
            request=request,
        )
        if job.replayed:
            body = s.JobSerializer(job, context={"request": request}).data
            return Response(body, status=status.HTTP_200_OK)
        body = s.JobSerializer(job_just_made(job), context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a job that has not started yet.",
        request=None,
        responses={
            200: s.JobSerializer,
            **DETAIL_ERRORS,
            **error_responses(409, e409="The job has already started or finished."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, public_id: str | None = None) -> Response:
        job = self.get_object()
        if not job_cancel(job=job):
            raise Conflict(
                _("This job can no longer be cancelled: it is %(status)s.") % {"status": job.get_status_display()},
                code="not_cancellable",
            )
        return Response(s.JobSerializer(job, context={"request": request}).data)


# ------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------
class FileRenderer(BaseRenderer):
    """Lets a client ask for a download with any Accept header; error bodies still go out as JSON."""

    media_type = "*/*"
    format = "file"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode()


@own_records_schema(
    listed="The caller's outputs, newest first.",
    filters=[OpenApiParameter("job", OpenApiTypes.UUID, description="Only the outputs of this job.")],
    item=s.OutputSerializer,
    one="Metadata of one output (text outputs include the text).",
    detail=s.OutputSerializer,
)
class OutputViewSet(EndUserApi, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.OutputSerializer
    pagination_class = OutputsNewestFirst
    lookup_field = "produce_id"
    lookup_value_regex = "[0-9a-zA-Z_-]{1,64}"

    def get_queryset(self) -> QuerySet[Output]:
        return outputs_of(user=self.request.user).annotate(job_created_at=F("job__created_at"))

    def filter_queryset(self, queryset: QuerySet[Output]) -> QuerySet[Output]:
        if self.action == "list" and "job" in self.request.query_params:
            field = serializers.UUIDField()
            try:
                job = field.to_internal_value(self.request.query_params["job"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"job": exc.detail}) from exc
            queryset = queryset.filter(job__public_id=job)
        return queryset

    @extend_schema(
        summary="Download the labelled file of an output.",
        description=(
            "With `visible_label=0` the file comes without the visible label (the implicit label stays), "
            "only if the service offers it and the caller accepted the labelling obligation; the download is logged."
        ),
        parameters=[OpenApiParameter("visible_label", OpenApiTypes.STR, enum=["0", "1"], required=False)],
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "text/markdown"): OpenApiTypes.STR,
            **DETAIL_ERRORS,
            **error_responses(
                403,
                410,
                e403="No end_user role, or no delivery without the visible label for this caller.",
                e410="The service removed this output.",
            ),
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, FileRenderer])
    def download(self, request: Request, produce_id: str | None = None) -> HttpResponseBase:
        output = self.get_object()
        if output.removed:
            raise Gone(_("This output was removed by the service: %(reason)s") % {"reason": output.removed_reason})
        try:
            return output_delivery(
                request=request,
                output=output,
                visible_label=request.query_params.get("visible_label") != "0",
                as_attachment=True,
            )
        except UnlabelledRefused as exc:
            raise PermissionDenied(exc.message) from exc


# ------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="The caller's reports, newest first.", responses={200: s.ReportSerializer(many=True), **LIST_ERRORS}
    ),
)
class ReportViewSet(EndUserApi, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ReportSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Complaint]:
        return reports_of(user=self.request.user)

    @extend_schema(
        summary="Report one of the caller's outputs (illegal, harmful, wrong label, ...).",
        description="Filed as a complaint linked to the output by its ProduceID; it is answered by due_at.",
        request=s.ReportCreateSerializer,
        responses={
            201: s.ReportSerializer,
            **COMMON_ERRORS,
            **error_responses(400, 404, e404="No output of yours with this ProduceID."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.ReportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        output = get_object_or_404(outputs_of(user=request.user), produce_id=data.validated_data["produce_id"])
        report = output_report_create(
            user=request.user,
            output=output,
            reason=data.validated_data["reason"],
            details=data.validated_data["details"],
            channel="api",
            request=request,
        )
        return Response(s.ReportSerializer(report).data, status=status.HTTP_201_CREATED)


# ------------------------------------------------------------------------------
# Tokens
# ------------------------------------------------------------------------------
class TokenApi(APIView):
    """Exchange a username and password for the user's API token; DELETE revokes it."""

    authentication_classes = EndUserApi.authentication_classes
    throttle_classes = [TokenThrottle]

    def _is_post(self) -> bool:
        return getattr(getattr(self, "request", None), "method", None) == "POST"

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self._is_post() else [p() for p in END_USER_PERMISSIONS]

    def get_authenticators(self) -> list[Any]:
        # POST carries credentials in the body: no session, so no CSRF check is needed for it.
        if self._is_post():
            return []
        return super().get_authenticators()

    @extend_schema(
        operation_id="token_create",
        summary="Get the API token of a user (created on first use). Send it as 'Authorization: Token <key>'.",
        request=s.TokenCreateSerializer,
        responses={
            200: s.TokenSerializer,
            **error_responses(400, 429, e400="No username or password, or they are not right."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = s.TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request, username=data.validated_data["username"], password=data.validated_data["password"]
        )
        if user is None or not user.is_active:
            raise serializers.ValidationError(_("The username or password is not right."), code="bad_credentials")
        return Response({"token": token_issue(user=user, request=request._request), "username": user.get_username()})

    @extend_schema(
        operation_id="token_delete",
        summary="Revoke the caller's API token.",
        request=None,
        responses={204: None, **COMMON_ERRORS},
    )
    def delete(self, request: Request) -> Response:
        token_revoke(user=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
