"""End-user API under /api/v1/ (the root URLconf includes this module there)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from generation.api import views

app_name = "generation-api"

router = SimpleRouter()
router.register("jobs", views.JobViewSet, basename="job")
router.register("outputs", views.OutputViewSet, basename="output")
router.register("reports", views.ReportViewSet, basename="report")

urlpatterns = [
    path("nets/", views.NetsApi.as_view(), name="nets"),
    path("auth/token/", views.TokenApi.as_view(), name="token"),
    path("", include(router.urls)),
]
