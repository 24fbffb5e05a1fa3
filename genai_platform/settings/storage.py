"""Settings of the stored files: outputs, copies without the visible label, checkpoints, training samples, audit
exports and filing packages, all written and read through Django's storage API (``STORAGES["default"]``).

With no environment they live on the local file system under ``GENAI_MEDIA_ROOT`` (the embedded default).
``GENAI_S3_BUCKET`` switches them to an S3-compatible bucket through django-storages, so that web and worker hosts
share no disk. Downloads still go through the views that check who asks: by default the view streams the file;
``GENAI_DOWNLOAD_REDIRECT`` makes it answer, after the check and the audit record, with a redirect to a presigned
URL of the bucket that expires after ``GENAI_DOWNLOAD_URL_SECONDS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genai_platform.settings.environment import DATA_DIR, DEBUG, env

MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("GENAI_MEDIA_ROOT", default=str(DATA_DIR / "media")))

# The bucket's connection. Empty credentials leave them to boto3's own chain (AWS_ACCESS_KEY_ID, an instance role).
S3_BUCKET = env("GENAI_S3_BUCKET", default="")
S3_ENDPOINT_URL = env("GENAI_S3_ENDPOINT_URL", default="")
S3_REGION = env("GENAI_S3_REGION", default="us-east-1")
S3_ACCESS_KEY_ID = env("GENAI_S3_ACCESS_KEY_ID", default="")
S3_SECRET_ACCESS_KEY = env("GENAI_S3_SECRET_ACCESS_KEY", default="")
# A folder inside the bucket that every stored name goes under (empty: the bucket's root).
S3_PREFIX = env("GENAI_S3_PREFIX", default="")
# "path" (bucket in the URL's path) suits MinIO and other self-hosted servers; "virtual" suits AWS and most clouds.
S3_ADDRESSING_STYLE = env("GENAI_S3_ADDRESSING_STYLE", default="path")

# After the view's check, redirect a download to a presigned URL of the bucket instead of streaming it.
DOWNLOAD_REDIRECT = env.bool("GENAI_DOWNLOAD_REDIRECT", default=False)
# How long such a URL stays valid.
DOWNLOAD_URL_SECONDS = env.int("GENAI_DOWNLOAD_URL_SECONDS", default=60)


def s3_storage_setting(
    *,
    bucket: str,
    prefix: str = "",
    endpoint_url: str = "",
    region: str = "us-east-1",
    access_key_id: str = "",
    secret_access_key: str = "",
    addressing_style: str = "path",
    url_seconds: int = 60,
) -> dict[str, Any]:
    """The ``STORAGES`` entry of django-storages' S3 backend for ``bucket`` on ``endpoint_url``."""
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": prefix.strip("/"),
        "region_name": region,
        "addressing_style": addressing_style,
        "signature_version": "s3v4",
        # Stored files are private: nothing is readable without a presigned URL or the platform's credentials.
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": url_seconds,
        # Outputs are named by ProduceID and checkpoints by their hash: writing a name again replaces the object.
        "file_overwrite": True,
    }
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if access_key_id:
        options["access_key"] = access_key_id
        options["secret_key"] = secret_access_key
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES: dict[str, dict[str, Any]] = {
    "default": (
        s3_storage_setting(
            bucket=S3_BUCKET,
            prefix=S3_PREFIX,
            endpoint_url=S3_ENDPOINT_URL,
            region=S3_REGION,
            access_key_id=S3_ACCESS_KEY_ID,
            secret_access_key=S3_SECRET_ACCESS_KEY,
            addressing_style=S3_ADDRESSING_STYLE,
            url_seconds=DOWNLOAD_URL_SECONDS,
        )
        if S3_BUCKET
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
