"""Checkpoints: their figures and lineage, the quality gate's verdict, the explicit serve action and the override."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from filing.models import ModelRecord
from filing.selectors import service_audience, service_public
from genai_platform.hygiene import CleanTextFormMixin
from generation.admin.common import ReadOnlyAdminMixin, action_confirmation, figure_table
from generation.checkpoints import ServingRefused, checkpoint_serve, checkpoint_serving, serving_records
from generation.models import (
    Checkpoint,
)
from generation.quality import GATE_RULES, GateCheck, figure_format, figure_name, figures_readable


class ServeForm(CleanTextFormMixin, forms.Form):
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
        return figure_table(obj.figures)

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
        return action_confirmation(
            self,
            request,
            "admin/generation/checkpoint/serve.html",
            title=_("Serve end users with this checkpoint"),
            checkpoint=checkpoint,
            checks=[GateCheck.from_dict(values) for values in checkpoint.gate_checks],
            serving=serving if serving is not None and serving.pk != checkpoint.pk else None,
            figures=figures_readable(checkpoint.figures),
            serving_figures=figures_readable(serving.figures) if serving is not None else [],
            public=public,
            audience=service_audience(public) if public is not None else "",
            form=form,
        )

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("generation.change_checkpoint")
