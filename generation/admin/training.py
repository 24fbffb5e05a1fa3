"""Training runs: starting one, watching its curves and phases, cancelling it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from filing.models import ModelRecord
from genai_platform.admin_mixins import CleanTextAdminMixin
from generation.admin.common import ReadOnlyInline, figure_table
from generation.models import (
    TrainingEpoch,
    TrainingRun,
)
from generation.quality import figure_format, figure_name
from generation.training_runs import training_request_validate, training_run_cancel, training_run_create


class TrainingEpochInline(ReadOnlyInline):
    model = TrainingEpoch
    fields = ("epoch", "losses_display", "metrics_display", "seconds_display", "picture")

    @admin.display(description=_("losses"))
    def losses_display(self, obj: TrainingEpoch) -> str:
        return figure_table(obj.losses)

    @admin.display(description=_("quality"))
    def metrics_display(self, obj: TrainingEpoch) -> str:
        return figure_table(obj.metrics)

    @admin.display(description=_("seconds"))
    def seconds_display(self, obj: TrainingEpoch) -> str:
        return f"{obj.seconds:.1f}"

    @admin.display(description=_("samples"))
    def picture(self, obj: TrainingEpoch) -> str:
        if not obj.samples:
            return "-"
        return format_html('<img src="{}" alt="" class="training-samples">', reverse("ops-samples", args=[obj.pk]))


class TrainingRunStartForm(forms.ModelForm):
    class Meta:
        model = TrainingRun
        fields = ("kind", "data", "seed", "epochs", "minutes", "model_record", "serve_if_better")
        help_texts = {
            "epochs": _("Leave empty to train for the time budget only."),
            "minutes": _("Training stops after this many minutes; the best epoch is kept."),
            "model_record": _(
                "Optional: the approved model record of the public service the checkpoint would be a version of. "
                "Without one the checkpoint is kept for you to serve explicitly."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        field = self.fields["model_record"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = ModelRecord.objects.filter(service__is_public=True, approval=ModelRecord.Approval.APPROVED)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                cleaned["data"] = training_request_validate(
                    kind=cleaned.get("kind", ""),
                    data=cleaned.get("data") or None,
                    epochs=cleaned.get("epochs"),
                    minutes=cleaned.get("minutes"),
                )
            except ValidationError as exc:
                raise forms.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc
        return cleaned


@admin.register(TrainingRun)
class TrainingRunAdmin(CleanTextAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "kind",
        "origin",
        "status",
        "phase",
        "progress_percent",
        "best_display",
        "created_at",
    )
    list_filter = ("kind", "status", "origin")
    readonly_fields = (
        "status",
        "phase",
        "origin",
        "worker",
        "progress_percent",
        "best_display",
        "checkpoint_link",
        "watch_link",
        "requested_by",
        "hyperparameters",
        "dataset_names",
        "dataset_fingerprints",
        "code_version",
        "torch_version",
        "metric_name",
        "best_metric",
        "best_epoch",
        "error",
        "is_demo",
        "created_at",
        "started_at",
        "finished_at",
    )
    inlines = (TrainingEpochInline,)
    actions = ("cancel",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TrainingRunStartForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return (
                (
                    _("Start a training run"),
                    {"fields": ("kind", "data", "seed", "epochs", "minutes", "model_record", "serve_if_better")},
                ),
            )
        return (
            (
                _("Run"),
                {
                    "fields": (
                        "kind",
                        "origin",
                        "status",
                        "phase",
                        "progress_percent",
                        "watch_link",
                        "requested_by",
                        "worker",
                    )
                },
            ),
            (
                _("Inputs"),
                {
                    "fields": (
                        "data",
                        "seed",
                        "epochs",
                        "minutes",
                        "model_record",
                        "serve_if_better",
                        "hyperparameters",
                        "dataset_names",
                        "dataset_fingerprints",
                        "code_version",
                        "torch_version",
                    )
                },
            ),
            (_("Result"), {"fields": ("best_display", "best_epoch", "checkpoint_link", "error")}),
            (_("Times"), {"fields": ("created_at", "started_at", "finished_at")}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return (*self.readonly_fields, "kind", "data", "seed", "epochs", "minutes", "model_record", "serve_if_better")

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj else ()

    def save_model(self, request: HttpRequest, obj: TrainingRun, form: Any, change: bool) -> None:
        if change:
            return
        try:
            run = training_run_create(
                kind=obj.kind,
                data=obj.data or None,
                seed=obj.seed,
                epochs=obj.epochs,
                minutes=obj.minutes,
                requested_by=request.user,
                model_record=obj.model_record,
                serve_if_better=obj.serve_if_better,
                origin="admin",
                request=request,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        obj.pk = run.pk

    def response_add(self, request: HttpRequest, obj: TrainingRun, post_url_continue: str | None = None) -> Any:
        if obj.pk:
            return HttpResponseRedirect(reverse("ops-training-watch", args=[obj.pk]))
        return HttpResponseRedirect(reverse("admin:generation_trainingrun_add"))

    @admin.display(description=_("progress"))
    def progress_percent(self, obj: TrainingRun) -> str:
        return f"{obj.progress:.0%}"

    @admin.display(description=_("best quality"))
    def best_display(self, obj: TrainingRun) -> str:
        if obj.best_metric is None:
            return "—"
        return f"{figure_name(obj.metric_name)}: {figure_format(obj.metric_name, obj.best_metric)}"

    @admin.display(description=_("checkpoint kept"))
    def checkpoint_link(self, obj: TrainingRun) -> str:
        checkpoint = obj.checkpoints.first()
        if checkpoint is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a> — {}{}',
            reverse("admin:generation_checkpoint_change", args=[checkpoint.pk]),
            checkpoint.sha256[:12],
            checkpoint.get_gate_display(),
            _(" (serving)") if checkpoint.is_active else "",
        )

    @admin.display(description=_("live view"))
    def watch_link(self, obj: TrainingRun) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("ops-training-watch", args=[obj.pk]), _("Watch curves and samples")
        )

    @admin.action(description=_("Cancel the selected training runs"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        cancelled = sum(training_run_cancel(run=run, actor=request.user, request=request) for run in queryset)
        self.message_user(
            request, _("Cancellation requested for %(n)d training run(s).") % {"n": cancelled}, messages.SUCCESS
        )
