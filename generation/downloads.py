"""Delivering an output's file to its owner, from the web pages and the API alike: the response, and the
``generation.output_downloaded`` audit record of each download (``output_delivery``)."""

from __future__ import annotations

import mimetypes
from typing import Any

from django.http import Http404
from django.http.response import HttpResponseBase

from audit import services as audit
from genai_platform.object_storage import stored_file_response
from generation.models import Output
from generation.services import output_unlabelled_allowed


def output_media_type(output: Output) -> str:
    name = output.file.name or ""
    guessed, _encoding = mimetypes.guess_type(name)
    if name.endswith(".md"):
        guessed = "text/markdown"
    if guessed and guessed.startswith("text/"):
        return f"{guessed}; charset=utf-8"
    return guessed or "application/octet-stream"


def _stored_response(output: Output, *, name: str, as_attachment: bool, cache_control: str) -> HttpResponseBase:
    """The stored file ``name`` of ``output``, streamed through the storage API (or, for a download with
    ``GENAI_DOWNLOAD_REDIRECT`` on a bucket, a redirect to a short-lived presigned URL); 404 when it is missing."""
    extension = name.rsplit(".", 1)[-1] if "." in name else "bin"
    try:
        response = stored_file_response(
            name=name,
            filename=f"ai-generated-{output.produce_id}.{extension}",
            as_attachment=as_attachment,
            content_type=output_media_type(output),
        )
    except FileNotFoundError:
        raise Http404 from None
    response["X-Content-Type-Options"] = "nosniff"
    if response.status_code == 200:
        response["Cache-Control"] = cache_control
    return response


def output_file_response(output: Output, *, as_attachment: bool) -> HttpResponseBase:
    """The stored (labelled) file of ``output``, as the worker wrote it."""
    return _stored_response(
        output, name=output.file.name or "", as_attachment=as_attachment, cache_control="private, max-age=3600"
    )


def output_downloaded(*, request: Any, output: Output, agreement_version: str | None = None) -> None:
    """Log a download; one without the visible label also records the obligation version accepted."""
    payload: dict[str, Any] = {"output_id": output.produce_id, "labelled": agreement_version is None}
    if agreement_version is not None:
        payload["agreement_version"] = agreement_version
        payload["purpose"] = "labelling obligation accepted by the user"
    audit.generation_event(
        event_type="generation.output_downloaded",
        actor=request.user,
        request=request,
        subject=output,
        produce_id=output.produce_id,
        payload=payload,
    )


def output_delivery(*, request: Any, output: Output, visible_label: bool, as_attachment: bool) -> HttpResponseBase:
    """The file of ``output`` for its owner: the labelled file, shown inline or downloaded (``as_attachment``), or
    without the visible label (always a download). Every download is logged; raises UnlabelledRefused when the
    file without the visible label is not allowed."""
    if not visible_label:
        return output_unlabelled_response(request=request, output=output)
    response = output_file_response(output, as_attachment=as_attachment)
    if as_attachment:
        output_downloaded(request=request, output=output)
    return response


def output_unlabelled_response(*, request: Any, output: Output) -> HttpResponseBase:
    """The output without its visible label, logged; raises UnlabelledRefused when not allowed."""
    version = output_unlabelled_allowed(user=request.user, output=output)
    response = _stored_response(
        output, name=output.file_unlabelled.name or "", as_attachment=True, cache_control="private, no-store"
    )
    output_downloaded(request=request, output=output, agreement_version=version)
    return response
