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

from generation.enforcement import suspension_lift
from generation.models import Checkpoint, Job, Output, Suspension, TrainingEpoch, TrainingRun
from generation.services import checkpoint_activate
from generation.training import training_request_validate, training_run_cancel, training_run_create


class ReadOnlyAdminMixin:
    """Records written by workers: operators look, they do not edit."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("kind", "short_hash", "metric_name", "metric_value", "is_active", "training_run", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("sha256",)
    list_select_related = ("training_run",)
    actions = ("activate",)

    @admin.display(description=_("SHA-256"))
    def short_hash(self, obj: Checkpoint) -> str:
        return obj.sha256[:16]

    @admin.action(description=_("Serve end users with the selected checkpoint"), permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Checkpoint]) -> None:
        if queryset.values("kind").distinct().count() != queryset.count():
            self.message_user(request, _("Choose at most one checkpoint per net."), messages.ERROR)
            return
        for checkpoint in queryset:
            checkpoint_activate(checkpoint=checkpoint)
        self.message_user(request, _("%(n)d checkpoint(s) now serving.") % {"n": queryset.count()}, messages.SUCCESS)

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("generation.change_checkpoint")


class TrainingEpochInline(admin.TabularInline):
    model = TrainingEpoch
    extra = 0
    can_delete = False
    fields = ("epoch", "losses", "metrics", "seconds", "picture")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("samples"))
    def picture(self, obj: TrainingEpoch) -> str:
        if not obj.samples:
            return "-"
        return format_html('<img src="{}" alt="" style="height:96px;image-rendering:pixelated">', obj.samples.url)


class TrainingRunStartForm(forms.ModelForm):
    class Meta:
        model = TrainingRun
        fields = ("kind", "data", "seed", "epochs", "minutes")
        help_texts = {
            "epochs": _("Leave empty to train for the time budget only."),
            "minutes": _("Training stops after this many minutes; the best epoch is kept."),
        }

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
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "kind",
        "status",
        "progress_percent",
        "metric_name",
        "best_metric",
        "is_demo",
        "created_at",
    )
    list_filter = ("kind", "status", "is_demo")
    readonly_fields = (
        "status",
        "progress_percent",
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
            return ((_("Start a training run"), {"fields": ("kind", "data", "seed", "epochs", "minutes")}),)
        return (
            (_("Run"), {"fields": ("kind", "status", "progress_percent", "watch_link", "requested_by", "is_demo")}),
            (
                _("Inputs"),
                {
                    "fields": (
                        "data",
                        "seed",
                        "epochs",
                        "minutes",
                        "hyperparameters",
                        "dataset_names",
                        "dataset_fingerprints",
                        "code_version",
                        "torch_version",
                    )
                },
            ),
            (_("Result"), {"fields": ("metric_name", "best_metric", "best_epoch", "error")}),
            (_("Times"), {"fields": ("created_at", "started_at", "finished_at")}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return (*self.readonly_fields, "kind", "data", "seed", "epochs", "minutes")

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

    @admin.display(description=_("live view"))
    def watch_link(self, obj: TrainingRun) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("ops-training-watch", args=[obj.pk]), _("Watch curves and samples")
        )

    @admin.action(description=_("Cancel the selected training runs"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        for run in queryset:
            training_run_cancel(run=run)
        self.message_user(request, _("Cancellation requested."), messages.SUCCESS)


class OutputInline(admin.TabularInline):
    model = Output
    extra = 0
    can_delete = False
    fields = ("index", "produce_id", "media", "file", "sha256")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("public_id", "user", "kind", "status", "attempts", "created_at", "finished_at")
    list_filter = ("kind", "status")
    search_fields = ("public_id", "user__username", "outputs__produce_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = (OutputInline,)


@admin.register(Output)
class OutputAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("produce_id", "job", "index", "media", "created_at")
    list_filter = ("media",)
    search_fields = ("produce_id", "job__public_id")
    list_select_related = ("job",)


@admin.register(Suspension)
class SuspensionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "rule", "violations", "created_at", "is_active_display", "lifted_by", "lifted_at")
    list_filter = ("rule", ("lifted_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "reason")
    list_select_related = ("user",)
    actions = ("lift",)

    @admin.display(description=_("in force"), boolean=True)
    def is_active_display(self, obj: Suspension) -> bool:
        return obj.is_active

    @admin.action(description=_("Lift the selected suspensions"), permissions=["lift"])
    def lift(self, request: HttpRequest, queryset: QuerySet[Suspension]) -> None:
        lifted = 0
        for suspension in queryset.filter(lifted_at__isnull=True):
            suspension_lift(
                suspension=suspension, actor=request.user, request=request, reason=str(_("Lifted in the admin."))
            )
            lifted += 1
        self.message_user(request, _("%(n)d suspension(s) lifted.") % {"n": lifted}, messages.SUCCESS)

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("generation.change_suspension")
