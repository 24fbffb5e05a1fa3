"""Start-up check: a process that labels images needs a CJK font, and says so before it serves.

Registered when this module is imported (``GenerationConfig.ready()`` imports it), so
``manage.py check``, ``runserver`` and ``migrate`` stop with one sentence when no font is found.
Celery workers do not run Django's checks: the worker start-up calls ``label_font_require()``.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from generation.labels.explicit import LabelFontMissing, label_font_path


@register("labels")
def label_font_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        label_font_path()
    except LabelFontMissing as exc:
        return [Error(str(exc), id="labels.E001")]
    return []
