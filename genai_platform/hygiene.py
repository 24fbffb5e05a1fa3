"""Input hygiene in one place: text that cannot be stored, and request bodies over the limit.

- Text: a NUL (PostgreSQL cannot store it), a lone surrogate (not encodable as UTF-8) or a Unicode
  non-character (U+FDD0-U+FDEF and the last two code points of every plane) is refused wherever a user
  or an operator types or uploads text. ``text_problem`` is the one check; ``CleanTextValidator``
  (Django validator), ``CleanTextFormMixin`` (every text field of a form), the API parsers (every string
  and key of a request body, nested ones included) and the tabular importers use it.
- Size: a request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` gets 413, with the API's error body under
  ``/api/`` and a plain page elsewhere (``RequestSizeMiddleware``), never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

API_PREFIX = "/api/"


def api_error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The API's one error shape: ``{"error": {"code", "message", "fields"}}`` (see generation.api.errors)."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


# ------------------------------------------------------------------------------
# Text
# ------------------------------------------------------------------------------
def _bad_character(char: str) -> bool:
    point = ord(char)
    return (
        point == 0
        or 0xD800 <= point <= 0xDFFF  # in a str every surrogate is a lone one: JSON pairs are joined
        or 0xFDD0 <= point <= 0xFDEF
        or (point & 0xFFFE) == 0xFFFE  # U+FFFE, U+FFFF, U+1FFFE, ... U+10FFFF
    )


def text_problem(value: str) -> str | None:
    """Why ``value`` may not be stored as text (a sentence naming the character and its place), or None."""
    for position, char in enumerate(value, start=1):
        if _bad_character(char):
            return _(
                "The text contains the character U+%(code)04X (at position %(position)d), which is not allowed "
                "in text; remove it."
            ) % {"code": ord(char), "position": position}
    return None


@deconstructible
class CleanTextValidator:
    """Django validator: refuses text with a NUL, a lone surrogate or a non-character."""

    code = "bad_character"

    def __call__(self, value: Any) -> None:
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise ValidationError(problem, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CleanTextValidator)

    def __hash__(self) -> int:
        return hash(CleanTextValidator)


def text_problems(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field, message) for every bad string in parsed data: dict keys and values, list items, nested.

    A nested field is named by its path with dots (``params.opening``); a bad key by its parent.
    """
    if isinstance(data, str):
        problem = text_problem(data)
        if problem:
            yield path or "non_field_errors", problem
    elif isinstance(data, dict):
        for key, value in data.items():
            key_text = str(key)
            problem = text_problem(key_text)
            if problem:
                yield path or "non_field_errors", problem
                continue
            yield from text_problems(value, f"{path}.{key_text}" if path else key_text)
    elif isinstance(data, list | tuple):
        for index, item in enumerate(data):
            yield from text_problems(item, f"{path}.{index}" if path else str(index))
    elif hasattr(data, "lists"):  # a QueryDict of form fields
        for key, values in data.lists():
            yield from text_problems({key: values if len(values) > 1 else values[0]}, path)


def _refuse_bad_text(data: Any) -> None:
    errors: dict[str, list[str]] = {}
    for field, message in text_problems(data):
        errors.setdefault(field, []).append(message)
    if errors:
        raise exceptions.ValidationError(errors, code="bad_character")


class CleanTextFormMixin:
    """Every text field of the form (CharField and its kinds: e-mail, slug, ...) refuses what
    ``text_problem`` refuses, with the message as the field's error. Put it first among the bases."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and CleanTextValidator() not in field.validators:
                field.validators.append(CleanTextValidator())


# ------------------------------------------------------------------------------
# API parsers: every string of a request body is checked once, whatever serializer reads it.
# ------------------------------------------------------------------------------
class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _refuse_bad_text(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _refuse_bad_text(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        result = super().parse(stream, media_type, parser_context)
        _refuse_bad_text(result.data)
        return result


# ------------------------------------------------------------------------------
# Request size
# ------------------------------------------------------------------------------
def too_large_response(request: HttpRequest) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = _("The request body is larger than the %(limit)d bytes this service accepts.") % {"limit": limit}
    if request.path.startswith(API_PREFIX):
        return JsonResponse(api_error_body("too_large", message), status=413, json_dumps_params={"ensure_ascii": False})
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


class RequestSizeMiddleware:
    """413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``. Place it right after ``SecurityMiddleware``.

    A body whose Content-Length is over the limit is refused before anything reads it. Uploaded files do
    not count (as in Django), so multipart bodies are measured by Django while it parses them. A web
    page's multipart body is parsed here, before the CSRF check would parse it and turn Django's
    ``RequestDataTooBig`` into a 400. The API parses its own (with the parsers above); the exception
    handler passes ``RequestDataTooBig`` on, and ``process_exception`` answers it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        multipart = (request.content_type or "").startswith("multipart/")
        if limit is not None and not multipart:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return too_large_response(request)
        if limit is not None and request.method == "POST" and multipart and not request.path.startswith(API_PREFIX):
            try:
                request.POST  # noqa: B018 - parsed now, so that a body over the limit is a 413
            except RequestDataTooBig:
                return too_large_response(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return too_large_response(request)
        return None
