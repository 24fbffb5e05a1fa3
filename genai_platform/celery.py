"""The one Celery app of the platform; configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun

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


@task_prerun.connect
@task_postrun.connect
def _database_connections_kept(**kwargs: object) -> None:
    # Django's rule for a worker's connections, as for a request's: kept for CONN_MAX_AGE seconds, checked before
    # reuse (CONN_HEALTH_CHECKS), closed after an error. Celery's Django fix-up would otherwise close them after
    # every task (CELERY_DB_REUSE_MAX in settings holds it back), and each job would open a new PostgreSQL
    # connection: about 10 ms, as long as a small job's computation.
    from django.db import close_old_connections

    close_old_connections()
