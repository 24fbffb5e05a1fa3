from django.urls import include, path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.log_list, name="log"),
    path("records/<int:seq>/", views.record_detail, name="record"),
    path("dashboards/", views.dashboards, name="dashboards"),
    path("trace/<str:kind>/<str:ident>/", views.trace, name="trace"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("exports/", views.export_list, name="exports"),
    path("exports/new/", views.export_new, name="export-new"),
    path("exports/<uuid:export_id>/", views.export_detail, name="export-detail"),
    path("exports/<uuid:export_id>/download/", views.export_download, name="export-download"),
    path("exports/<uuid:export_id>/manifest.json", views.export_manifest, name="export-manifest"),
    path("verify/", views.verify_now, name="verify"),
    path("integrity/", views.integrity_banner, name="integrity"),
    path("public-key", views.public_key, name="public-key"),
    path("api/", include("audit.api.urls")),
]
