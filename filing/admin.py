from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from filing.models import Provider, Service


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    fields = ("name", "version", "status", "filing_number")
    show_change_link = True


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "uscc", "updated_at")
    search_fields = ("legal_name", "uscc")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (_("Identity"), {"fields": ("legal_name", "uscc")}),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )
    inlines = (ServiceInline,)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "provider", "status", "filing_number")
    list_filter = ("status",)
    search_fields = ("name", "filing_number", "provider__legal_name")
    list_select_related = ("provider",)
    readonly_fields = ("created_at", "updated_at")


# Admin pages of the safety records (risk taxonomy, thresholds, keyword library).
import filing.safety.admin  # noqa: E402, F401
