from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from genai_platform.queues import Queue


class User(AbstractUser):
    """A person using the platform. What they may do comes from their role groups (roles.py)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")  # type: ignore[assignment]  # a lazy string, as Django expects
        verbose_name_plural = _("users")  # type: ignore[assignment]


class WorkerHeartbeat(models.Model):
    """The last time a worker consuming a queue answered; one row per queue.

    The periodic scheduler sends a heartbeat task to every queue, so a stale row means nobody
    consumes that queue.
    """

    queue = models.CharField(_("queue"), max_length=32, choices=[(q.value, q.value) for q in Queue], unique=True)
    hostname = models.CharField(_("worker"), max_length=255)
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    seen_at = models.DateTimeField(_("seen at"))

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        permissions = [("send_heartbeat", _("Can send a heartbeat to the workers"))]

    def __str__(self) -> str:
        return f"{self.queue} @ {self.hostname}"
