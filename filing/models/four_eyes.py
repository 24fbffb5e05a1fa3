"""The base of the records another person signs off (four eyes): model records (approved), self-assessments
(finalised) and services (their filing submitted)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from filing.history import HistoryModel


class SignedOffRecord(HistoryModel):
    """A filing record whose sign-off (approval, finalisation, submission) needs a person other than the one who
    last changed it, when ``FILING_FOUR_EYES`` is on (``filing.services.four_eyes``).

    ``last_changed_by`` is set by the services that change what the record files and by the admin when a save
    changes its form or the rows edited on its page. The sign-off steps, the workflow and the emergency stop do not
    set it: they have their own who-fields. Changes the platform makes (no person acting) leave it as it is.
    """

    last_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("last changed by"),
        help_text=_("Who last changed what this record files; another person signs it off."),
    )

    # Who acted is already the actor of each history record.
    history_exclude: tuple[str, ...] = ("last_changed_by",)
    # Fields whose change in the admin is not a change of what the record files.
    not_signed_off: tuple[str, ...] = ()

    class Meta:
        abstract = True
