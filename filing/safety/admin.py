"""Admin pages of the safety records: the risk taxonomy (read-only) and the thresholds. The keyword library's, the
test banks' and the assessment runs' pages are imported at the end."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from filing.admin_base import FilingModelAdmin
from filing.safety.models import Risk, RiskCategory, SafetyConfigVersion, SafetyThreshold
from filing.safety.selectors import safety_config_version_current
from filing.safety.services import safety_threshold_set, safety_threshold_value_clean
from genai_platform.admin_mixins import ReadOnlyAdminMixin


class RiskInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Risk
    fields = ("code", "name_zh", "name_en")
    extra = 0


@admin.register(RiskCategory)
class RiskCategoryAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    list_display = ("code", "name_zh", "name_en")
    inlines = (RiskInline,)


@admin.register(Risk)
class RiskAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    list_display = ("code", "name_zh", "name_en", "category")
    list_filter = ("category",)
    search_fields = ("code", "name_zh", "name_en")
    list_select_related = ("category",)


#
# Safety thresholds
#


class SafetyThresholdForm(forms.ModelForm):
    note = forms.CharField(label=_("reason for the change"), max_length=500, required=False)

    class Meta:
        model = SafetyThreshold
        fields = ("value",)

    def clean_value(self) -> Decimal:
        # The service's own rule, shown on the field: a refused value is never reported as saved.
        return safety_threshold_value_clean(self.instance, self.cleaned_data["value"])


@admin.register(SafetyThreshold)
class SafetyThresholdAdmin(FilingModelAdmin):
    """The thresholds in force. Saving one creates a new configuration version; old ones stay as history."""

    form = SafetyThresholdForm
    list_display = ("title", "display_value", "unit", "clause", "basis", "key", "version")
    list_filter = ("basis", "unit")
    search_fields = ("key", "title_zh", "title_en", "clause")
    readonly_fields = ("key", "title_zh", "title_en", "unit", "clause", "basis", "version")
    fieldsets = (
        (None, {"fields": ("key", "title_zh", "title_en", "unit", "clause", "basis", "version")}),
        (_("Change"), {"fields": ("value", "note")}),
    )
    list_select_related = ("version",)

    @admin.display(description=_("threshold"))
    def title(self, obj: SafetyThreshold) -> str:
        return obj.title

    @admin.display(description=_("value"))
    def display_value(self, obj: SafetyThreshold) -> str:
        return obj.display_value

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).filter(version=safety_config_version_current())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SafetyThreshold, form: Any, change: bool) -> None:
        try:
            version = safety_threshold_set(
                key=obj.key, value=obj.value, actor=request.user.get_username(), note=form.cleaned_data.get("note", "")
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
            return
        self.message_user(
            request, _("Saved as configuration version %(number)s.") % {"number": version.number}, messages.SUCCESS
        )

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # The edited row is not saved (a new version is); the admin log would point at the old row.
        return None


class SafetyThresholdHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SafetyThreshold
    fields = ("key", "value", "unit", "clause", "basis")
    extra = 0


@admin.register(SafetyConfigVersion)
class SafetyConfigVersionAdmin(ReadOnlyAdminMixin, FilingModelAdmin):
    list_display = ("number", "created_at", "created_by", "note")
    search_fields = ("note", "created_by")
    inlines = (SafetyThresholdHistoryInline,)


# Admin pages of the keyword library, the test banks and the assessment runs.
import filing.safety.bank_admin  # noqa: E402, F401
import filing.safety.keyword_admin  # noqa: E402, F401
import filing.safety.run_admin  # noqa: E402, F401
