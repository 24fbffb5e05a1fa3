from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from filing.models import Incident, ModelRecord
from filing.selectors import service_audience, service_public
from genai_platform.admin_mixins import ReadOnlyAdminMixin as PlatformReadOnlyAdminMixin
from generation.checkpoints import ServingRefused, checkpoint_serve, checkpoint_serving, serving_records
from generation.enforcement import suspension_lift
from generation.models import (
    AccountClosure,
    AgeDeclaration,
    Checkpoint,
    Job,
    Output,
    PhoneVerification,
    Suspension,
    TrainingEpoch,
    TrainingRun,
)
from generation.quality import GATE_RULES, GateCheck, figure_format, figure_name, figures_readable
from generation.services import outputs_remove
from generation.training_runs import training_request_validate, training_run_cancel, training_run_create


class ReadOnlyAdminMixin(PlatformReadOnlyAdminMixin):
    """Records written by workers: operators look, they do not edit (deleting stays possible)."""

    allow_delete = True


def _figure_table(figures: dict[str, Any]) -> str:
    """Figures named in words and rounded, as a small table."""
    rows = figures_readable(figures or {})
    if not rows:
        return "—"
    return format_html(
        '<table class="figures">{}</table>',
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )


class ServeForm(forms.Form):
    """The explicit action that makes a checkpoint serve: under which model record, and why if the gate failed."""

    record = forms.ModelChoiceField(
        label=_("Model record it serves under"),
        queryset=ModelRecord.objects.none(),  # set per checkpoint
        help_text=_("Approved model records of the public service for this kind of net; its code goes into labels."),
    )
    reason = forms.CharField(
        label=_("Why this checkpoint should serve although it failed the quality gate"),
        min_length=10,
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=_("Recorded with the checkpoint and in the audit log, with your name."),
    )

    def __init__(self, *args: Any, checkpoint: Checkpoint, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checkpoint = checkpoint
        records = serving_records(checkpoint.kind)
        field = self.fields["record"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = ModelRecord.objects.filter(pk__in=[r.pk for r in records])
        if checkpoint.model_record_id in {r.pk for r in records}:
            field.initial = checkpoint.model_record_id
        elif len(records) == 1:
            field.initial = records[0].pk
        if checkpoint.may_serve:
            del self.fields["reason"]

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError(_("It failed the quality gate: write why it should serve anyway."))
        return reason


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Checkpoints and the quality gate: one passes before it serves, or an operator overrides it with a reason."""

    list_display = (
        "kind",
        "short_hash",
        "origin",
        "gate_display",
        "key_figures",
        "is_active",
        "model_record",
        "training_run",
        "created_at",
    )
    list_filter = ("kind", "is_active", "gate", "origin")
    search_fields = ("sha256",)
    list_select_related = ("training_run", "model_record")
    actions = ("activate",)
    fieldsets = (
        (None, {"fields": ("kind", "sha256", "origin", "is_active", "model_record", "training_run", "size_bytes")}),
        (_("Quality gate"), {"fields": ("gate_display", "gate_sentences", "gate_config_version", "figure_table")}),
        (_("Override"), {"fields": ("gate_override_reason", "gate_override_by", "gate_override_at")}),
        (_("Lineage"), {"fields": ("config", "created_at")}),
    )
    readonly_fields = (
        "kind",
        "sha256",
        "origin",
        "is_active",
        "model_record",
        "training_run",
        "size_bytes",
        "gate_display",
        "gate_sentences",
        "gate_config_version",
        "figure_table",
        "gate_override_reason",
        "gate_override_by",
        "gate_override_at",
        "config",
        "created_at",
    )

    @admin.display(description=_("SHA-256"))
    def short_hash(self, obj: Checkpoint) -> str:
        return obj.sha256[:16]

    @admin.display(description=_("quality gate"))
    def gate_display(self, obj: Checkpoint) -> str:
        if obj.gate_override_reason:
            return format_html('<span class="gate gate-overridden">⚠ {}</span>', _("overridden"))
        icon = {Checkpoint.Gate.PASSED: "✔", Checkpoint.Gate.FAILED: "✘"}.get(Checkpoint.Gate(obj.gate), "…")
        return format_html('<span class="gate gate-{}">{} {}</span>', obj.gate, icon, obj.get_gate_display())

    @admin.display(description=_("figures"))
    def key_figures(self, obj: Checkpoint) -> str:
        keys = [rule.figure for rule in GATE_RULES.get(obj.kind, ())]
        shown = [f"{figure_name(k)}: {figure_format(k, obj.figures.get(k))}" for k in keys if k in obj.figures]
        return "; ".join(shown) or "—"

    @admin.display(description=_("checks"))
    def gate_sentences(self, obj: Checkpoint) -> str:
        checks = [GateCheck.from_dict(values) for values in obj.gate_checks]
        if not checks:
            return str(_("Not measured: a checkpoint kept from a stopped run, or from before the gate existed."))
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li>{} {}</li>", (("✔" if c.passed else "✘", c.sentence()) for c in checks)),
        )

    @admin.display(description=_("all figures"))
    def figure_table(self, obj: Checkpoint) -> str:
        return _figure_table(obj.figures)

    @admin.action(description=_("Serve end users with the selected checkpoint…"), permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Checkpoint]) -> TemplateResponse | None:
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one checkpoint to serve."), messages.ERROR)
            return None
        checkpoint = queryset.select_related("model_record__service").get()
        form = ServeForm(request.POST if "record" in request.POST else None, checkpoint=checkpoint)
        if form.is_valid():
            try:
                checkpoint_serve(
                    checkpoint=checkpoint,
                    record=form.cleaned_data["record"],
                    actor=request.user,
                    request=request,
                    override_reason=form.cleaned_data.get("reason", ""),
                )
            except ServingRefused as refused:
                self.message_user(request, refused.message, messages.ERROR)
                return None
            self.message_user(
                request,
                _("Checkpoint %(name)s now serves end users.") % {"name": checkpoint.sha256[:12]},
                messages.WARNING if "reason" in form.fields else messages.SUCCESS,
            )
            return None
        serving = checkpoint_serving(checkpoint.kind)
        public = service_public()
        return TemplateResponse(
            request,
            "admin/generation/checkpoint/serve.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Serve end users with this checkpoint"),
                "checkpoint": checkpoint,
                "checks": [GateCheck.from_dict(values) for values in checkpoint.gate_checks],
                "serving": serving if serving is not None and serving.pk != checkpoint.pk else None,
                "figures": figures_readable(checkpoint.figures),
                "serving_figures": figures_readable(serving.figures) if serving is not None else [],
                "public": public,
                "audience": service_audience(public) if public is not None else "",
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("generation.change_checkpoint")


class TrainingEpochInline(admin.TabularInline):
    model = TrainingEpoch
    extra = 0
    can_delete = False
    fields = ("epoch", "losses_display", "metrics_display", "seconds_display", "picture")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("losses"))
    def losses_display(self, obj: TrainingEpoch) -> str:
        return _figure_table(obj.losses)

    @admin.display(description=_("quality"))
    def metrics_display(self, obj: TrainingEpoch) -> str:
        return _figure_table(obj.metrics)

    @admin.display(description=_("seconds"))
    def seconds_display(self, obj: TrainingEpoch) -> str:
        return f"{obj.seconds:.1f}"

    @admin.display(description=_("samples"))
    def picture(self, obj: TrainingEpoch) -> str:
        if not obj.samples:
            return "-"
        return format_html('<img src="{}" alt="" style="height:96px;image-rendering:pixelated">', obj.samples.url)


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
        from filing.models import ModelRecord

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
class TrainingRunAdmin(admin.ModelAdmin):
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


class RemoveForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the content is removed"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("The owners see this on their job page; it is recorded in the audit log."),
    )
    incident = forms.ModelChoiceField(
        label=_("Incident"), queryset=Incident.objects.order_by("-found_at"), required=False
    )


class IncidentOutputsFilter(admin.SimpleListFilter):
    """``?incident_outputs=<id>``: the outputs an incident lists by ProduceID (the incident page links here)."""

    title = _("outputs of an incident")
    parameter_name = "incident_outputs"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(i.pk), str(i)) for i in Incident.objects.exclude(produce_ids=[]).order_by("-found_at")[:20]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Output]) -> QuerySet[Output]:
        value = self.value()
        if not value:
            return queryset
        incident = Incident.objects.filter(pk=value).first()
        return queryset.filter(produce_id__in=incident.produce_ids if incident else [])


@admin.register(Output)
class OutputAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("produce_id", "job", "index", "media", "created_at", "removed_at")
    list_filter = ("media", IncidentOutputsFilter, ("removed_at", admin.EmptyFieldListFilter))
    search_fields = ("produce_id", "job__public_id")
    list_select_related = ("job",)
    actions = ("remove",)

    @admin.action(
        description=_("Remove the selected outputs (they can no longer be viewed or downloaded)…"),
        permissions=["remove"],
    )
    def remove(self, request: HttpRequest, queryset: QuerySet[Output]) -> TemplateResponse | None:
        form = RemoveForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            count = outputs_remove(
                outputs=list(queryset),
                reason=form.cleaned_data["reason"],
                actor=request.user,
                incident=form.cleaned_data["incident"],
                request=request,
            )
            self.message_user(request, _("%(n)d output(s) removed.") % {"n": count}, messages.WARNING)
            return None
        return TemplateResponse(
            request,
            "admin/generation/output/remove.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Remove outputs"),
                "outputs": list(queryset[:200]),
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def has_remove_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("generation.change_output")


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


@admin.register(PhoneVerification)
class PhoneVerificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who verified which number: shown masked only (the encrypted number and its hash are not displayed)."""

    list_display = ("user", "phone_masked", "verified_at")
    fields = ("user", "phone_masked", "verified_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(AgeDeclaration)
class AgeDeclarationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "date_of_birth", "guardian_name", "guardian_contact_masked", "guardian_consented_at")
    fields = ("user", "date_of_birth", "guardian_name", "guardian_contact_masked", "guardian_consented_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(AccountClosure)
class AccountClosureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "requested_at", "effective_at", "cancelled_at", "completed_at")
    list_filter = (("completed_at", admin.EmptyFieldListFilter), ("cancelled_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username",)
    list_select_related = ("user",)
