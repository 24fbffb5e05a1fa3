from typing import Any

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.dispatch import Signal
from django.utils.translation import gettext_lazy as _

from genai_platform.queues import Queue

# Sent with ``user`` when an account is created as a superuser (``createsuperuser``, or code calling
# ``create_superuser``): the access change's audit record is written by a receiver above the kernel.
superuser_created = Signal()


class UserManager(DjangoUserManager["User"]):
    def create_superuser(  # type: ignore[override]
        self, username: str, email: str | None = None, password: str | None = None, **extra_fields: Any
    ) -> "User":
        user = super().create_superuser(username, email, password, **extra_fields)
        superuser_created.send(sender=self.model, user=user)
        return user


class User(AbstractUser):
    """A person using the platform. What they may do comes from their role groups (roles.py)."""

    objects = UserManager()  # type: ignore[misc]

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
