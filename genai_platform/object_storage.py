"""Stored files on several hosts: the response that delivers one after a view's check, and the S3 connection that
keeps a single object outside the storage API (the audit anchor, ``s3://bucket/key``).

Every stored file is written and read through Django's storage API (``STORAGES["default"]``, see
``genai_platform.settings.storage``): the local folder on the embedded default, an S3-compatible bucket when
``GENAI_S3_BUCKET`` is set. No code asks a stored file for its local path.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.http import FileResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header

S3_SCHEME = "s3://"


def stored_file_response(
    *,
    name: str,
    filename: str,
    as_attachment: bool = True,
    content_type: str | None = None,
    storage: Storage | None = None,
) -> HttpResponseBase:
    """The stored file ``name``, for a view that has already checked who asks (and logged the download).

    Streamed from ``storage.open`` by default. With ``GENAI_DOWNLOAD_REDIRECT`` on a bucket, a download (an
    attachment) answers with a redirect to a presigned URL valid ``GENAI_DOWNLOAD_URL_SECONDS``, which names the
    file and its type for the browser; a file shown inside a page is always streamed, so that it stays on the
    platform's own origin. Raises FileNotFoundError when the storage does not hold ``name``.
    """
    storage = storage or default_storage
    if as_attachment and settings.DOWNLOAD_REDIRECT and getattr(storage, "querystring_auth", False):
        parameters = {"ResponseContentDisposition": content_disposition_header(True, filename) or "attachment"}
        if content_type:
            parameters["ResponseContentType"] = content_type
        url = storage.url(name, parameters=parameters, expire=settings.DOWNLOAD_URL_SECONDS)  # type: ignore[call-arg]
        response: HttpResponseBase = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    return FileResponse(
        storage.open(name, "rb"), as_attachment=as_attachment, filename=filename, content_type=content_type
    )


def s3_location_split(location: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of an ``s3://bucket/key`` location; ``None`` for anything else (a local path)."""
    if not location.startswith(S3_SCHEME):
        return None
    bucket, _, key = location[len(S3_SCHEME) :].partition("/")
    if not bucket or not key:
        raise ValueError(f"{location!r} is not s3://bucket/key")
    return bucket, key


def s3_client(*, access_key_id: str = "", secret_access_key: str = "") -> Any:
    """A boto3 S3 client on the configured endpoint and region, with the given credentials or else the storage's
    (``GENAI_S3_ACCESS_KEY_ID``), or else boto3's own chain."""
    import boto3
    from botocore.config import Config

    key_id = access_key_id or settings.S3_ACCESS_KEY_ID
    secret = secret_access_key if access_key_id else settings.S3_SECRET_ACCESS_KEY
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL or None,
        region_name=settings.S3_REGION,
        aws_access_key_id=key_id or None,
        aws_secret_access_key=secret or None,
        config=Config(signature_version="s3v4", s3={"addressing_style": settings.S3_ADDRESSING_STYLE}),
    )
