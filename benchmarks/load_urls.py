"""The load benchmark's URLs: the platform's own plus two baselines.

``GET /bench/plain/`` is a plain DRF view with no authentication that runs one database query.
``GET /bench/authenticated/`` is the minimal authenticated endpoint: the end-user API's authentication,
permission and throttle classes (``EndUserApi``), and one indexed query (the caller's newest job).
``bench_load`` serves them under gunicorn with ``benchmarks.load_settings``.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from generation.api.views import EndUserApi


class PlainView(APIView):
    """The baseline: DRF's request handling and one indexed query, nothing of the platform's own."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        from django.contrib.auth import get_user_model

        first = get_user_model().objects.order_by("pk").values_list("pk", flat=True).first()
        return Response({"first_user": first})


class AuthenticatedView(EndUserApi, APIView):
    """The baseline of an API call: the end-user API's authentication, role check and throttling, and one indexed
    query, nothing else."""

    def get(self, request: Request) -> Response:
        from generation.models import Job

        newest = Job.objects.filter(user=request.user).order_by("-created_at").values_list("pk", flat=True).first()
        return Response({"newest_job": newest})


urlpatterns = [
    path("bench/plain/", PlainView.as_view()),
    path("bench/authenticated/", AuthenticatedView.as_view()),
    path("", include("genai_platform.urls")),
]
