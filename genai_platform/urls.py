"""Root URLs. Nothing imported from here may import torch: the web process never loads a net."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from genai_platform import views

admin.site.site_header = admin.site.site_title = "genai-platform"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("generation.api.urls")),
    path("ops/heartbeat/", views.heartbeat, name="ops-heartbeat"),
    path("audit/", include("audit.urls")),
    path("", include("generation.labels.urls")),
    path("", include("generation.urls")),
    path("", views.home, name="home"),
]

# Stored files (outputs, copies without the visible label, checkpoints, training samples, filing evidence) are
# never served from MEDIA_URL, in development either: only the views that check who is asking deliver them.

handler403 = "genai_platform.views.forbidden"
handler404 = "genai_platform.views.not_found"
