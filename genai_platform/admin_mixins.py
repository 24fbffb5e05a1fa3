"""What the apps' admins share."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from genai_platform.hygiene import CleanTextFormMixin


class ReadOnlyAdminMixin:
    """Records the platform writes (or ships): operators look at them and never add or change them here.
    Deleting stays refused too, unless an admin sets ``allow_delete``."""

    allow_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_delete and super().has_delete_permission(request, obj)  # type: ignore[misc]


class CleanTextAdminMixin:
    """The admin's add and change forms refuse text that cannot be stored (``genai_platform.hygiene``)."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        if issubclass(form, CleanTextFormMixin):
            return form
        return type(form.__name__, (CleanTextFormMixin, form), {"__module__": form.__module__})
