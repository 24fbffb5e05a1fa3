"""URLs of the label surfaces; the root URLconf includes them at the site root."""

from django.urls import path

from generation.labels import views

app_name = "labels"

urlpatterns = [
    path(".well-known/aigc-label-keys.json", views.label_keys, name="keys"),
    path("labels/verify/", views.verify_page, name="verify"),
    path("api/v1/labels/verify/", views.LabelVerifyApi.as_view(), name="verify-api"),
]
