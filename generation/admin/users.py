"""End users' records the operators see: suspensions (lifted here), verified numbers (masked), age
declarations and account closures."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from generation.admin.common import ReadOnlyAdminMixin
from generation.enforcement import suspension_lift
from generation.models import (
    AccountClosure,
    AgeDeclaration,
    PhoneVerification,
    Suspension,
)


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
