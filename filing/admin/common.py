"""What the filing's admin pages share: the reason field of actions, the form that asks before a change takes a
generator offline, the sign-off of a record by another person (four eyes), actions written for one record, refusals
shown as messages, the emergency stop actions, file columns and downloads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from filing import services
from filing.services.four_eyes import Step
from genai_platform.hygiene import CleanTextFormMixin
from genai_platform.object_storage import stored_file_response


class ReasonActionForm(CleanTextFormMixin, ActionForm):
    """The action bar with a text box for actions that need a reason (return, reject, resolve ...)."""

    reason = forms.CharField(label=_("reason / note"), required=False, max_length=2000)


class TakeOfflineForm(forms.ModelForm):
    """A record's form whose change may stop a generator for the people using it: the change is refused, saying
    so (``offline_warning``), until the operator ticks the box ``take_offline`` (declared by the form, with its own
    words)."""

    def offline_warning(self, cleaned: dict[str, Any]) -> str | None:
        """Why saving ``cleaned`` stops a generator; None when it does not."""
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("take_offline"):
            warning = self.offline_warning(cleaned)
            if warning:
                raise forms.ValidationError(warning)
        return cleaned


class SignOffAdminMixin:
    """The admin of a record another person signs off (four eyes): a save that changes what the record files, or the
    rows edited on its page, makes the operator its last changer; while the sign-off ``signoff_step`` is pending
    (``signoff_pending``), the change page says why the operator viewing it may not take it
    (``admin/filing/change_form.html``)."""

    signoff_step: Step

    def signoff_pending(self, obj: Any) -> bool:
        raise NotImplementedError

    def signoff_refusal(self, request: HttpRequest, obj: Any) -> str | None:
        """Why ``request.user`` may not sign ``obj`` off now; ``None`` when they may or it is not due."""
        if obj is None or not self.signoff_pending(obj):
            return None
        return services.four_eyes_refusal(record=obj, actor=request.user, step=self.signoff_step)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        extra_context = dict(extra_context or {})
        if "four_eyes_refusal" not in extra_context:
            extra_context["four_eyes_refusal"] = self.signoff_refusal(
                request,
                self.get_object(request, object_id),  # type: ignore[attr-defined]
            )
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if _filed_fields_changed(form):
            services.record_changed_by(record=obj, actor=request.user)
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        if any(formset.has_changed() for formset in formsets):
            services.record_changed_by_save(record=form.instance, actor=request.user)


def _filed_fields_changed(form: Any) -> bool:
    """Whether ``form`` changed a field of its record that the record files (``not_signed_off`` of the model names
    those it does not; a field of the form alone, such as a confirmation box, does not count)."""
    model = form._meta.model
    names = {field.name for field in model._meta.get_fields()} - set(model.not_signed_off)
    return any(name in names for name in form.changed_data)


def refusal_show(admin_obj: admin.ModelAdmin, request: HttpRequest, exc: Exception) -> None:
    admin_obj.message_user(request, str(exc), messages.ERROR)


def each_selected(
    done: Callable[[Any], str] | None = None, *, level: int = messages.SUCCESS, stop_at_refusal: bool = False
) -> Callable[[Callable[[Any, HttpRequest, Any], object]], Callable[[Any, HttpRequest, Any], None]]:
    """Makes an admin action of a method that works on one record: it runs on each selected record, and says
    ``done(record)`` after each. A refusal is shown as an error and the action goes on with the next record, or
    ends if ``stop_at_refusal``."""

    def decorate(act: Callable[[Any, HttpRequest, Any], object]) -> Callable[[Any, HttpRequest, Any], None]:
        @functools.wraps(act)
        def action(admin_obj: Any, request: HttpRequest, queryset: Any) -> None:
            for record in queryset:
                try:
                    act(admin_obj, request, record)
                except services.FilingError as exc:
                    refusal_show(admin_obj, request, exc)
                    if stop_at_refusal:
                        return
                    continue
                if done is not None:
                    admin_obj.message_user(request, done(record), level)

        return action

    return decorate


class EmergencyStopActions:
    """Admin actions that stop generation at once for the selected services or model records, and resume it."""

    @admin.action(description=_("Stop generation now (give the reason)"), permissions=["change"])
    @each_selected(
        lambda target: gettext("Generation stopped for %(t)s; end users see that it is paused.") % {"t": target},
        level=messages.WARNING,
        stop_at_refusal=True,
    )
    def stop_generation(self, request: HttpRequest, target: Any) -> None:
        reason = request.POST.get("reason", "")
        services.generation_stop(target=target, reason=reason, actor=request.user, request=request)

    @admin.action(description=_("Let it generate again"), permissions=["change"])
    def resume_generation(self, request: HttpRequest, queryset: Any) -> None:
        for target in queryset.filter(generation_stopped_at__isnull=False):
            services.generation_resume(
                target=target, actor=request.user, note=request.POST.get("reason", ""), request=request
            )
            self.message_user(  # type: ignore[attr-defined]
                request, gettext("%(t)s generates again.") % {"t": target}, messages.SUCCESS
            )

    @admin.display(description=_("generation"))
    def generation_state(self, obj: Any) -> str:
        if obj.generation_stopped_at is None:
            return gettext("running")
        return format_html('<strong class="status-bad">{}</strong>', gettext("stopped"))


def file_download(
    admin_obj: admin.ModelAdmin, request: HttpRequest, field_file: Any, *, owner: Any
) -> HttpResponseBase:
    """A stored file, served only to whoever may view its ``owner`` record in ``admin_obj`` (media is not public)."""
    from django.http import Http404

    if not admin_obj.has_view_permission(request, owner):
        raise PermissionDenied
    if not field_file:
        raise Http404
    filename = (field_file.name or "").rsplit("/", 1)[-1]
    try:
        return stored_file_response(name=field_file.name, filename=filename, storage=field_file.storage)
    except FileNotFoundError as exc:
        raise Http404 from exc


def download_link(url_name: str, obj: Any, stored: Any) -> str:
    """A link that downloads ``stored``, a file of ``obj``, through the admin page ``url_name``; a dash while there
    is none."""
    if not (obj.pk and stored):
        return "—"
    return format_html('<a href="{}">{}</a>', reverse(url_name, args=[obj.pk]), gettext("download"))


class FileInline(admin.TabularInline):
    """Rows that each hold a stored ``file``, with a column that downloads it through ``download_url_name``."""

    download_url_name = ""

    @admin.display(description=_("download"))
    def download(self, obj: Any) -> str:
        return download_link(self.download_url_name, obj, obj.file)


def number_warning(admin_obj: admin.ModelAdmin, request: HttpRequest, number: str) -> None:
    """Filing numbers are checked loosely: an unusual one is saved, with a warning."""
    warning = services.filing_number_warning(number)
    if warning:
        admin_obj.message_user(request, warning, messages.WARNING)
