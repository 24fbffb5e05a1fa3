"""The one Celery app of the platform; configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genai_platform.settings.base")

app = Celery("genai_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _configure_logging(**kwargs: object) -> None:
    # Workers log the way the web process does (JSON lines in production).
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
