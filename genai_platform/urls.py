"""Root URLs. Nothing imported from here may import torch: the web process never loads a net."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from genai_platform import views

admin.site.site_header = admin.site.site_title = "genai-platform"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("generation.api.urls")),
    path("ops/heartbeat/", views.heartbeat, name="ops-heartbeat"),
    path("audit/", include("audit.urls")),
    path("", include("generation.labels.urls")),
    path("", include("generation.urls")),
    path("", views.home, name="home"),
]

if settings.DEBUG:
    # Development only: production serves media through views that check who is asking.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "genai_platform.views.not_found"
