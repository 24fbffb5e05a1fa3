"""The admin app with the platform's site (``genai_platform.admin_site.PlatformAdminSite``) as its default site."""

from django.contrib.admin.apps import AdminConfig


class PlatformAdminConfig(AdminConfig):
    default_site = "genai_platform.admin_site.PlatformAdminSite"
