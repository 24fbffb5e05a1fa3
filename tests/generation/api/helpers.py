"""Jobs and outputs written straight to the database, for tests that need no worker."""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import Job, Output


def png_bytes(shade: int = 128) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (28, 28), color=shade).save(buffer, format="PNG")
    return buffer.getvalue()


def job_make(user: Any, *, kind: str = "gan", status: str = Job.Status.SUCCEEDED, **fields: Any) -> Job:
    params = {"gan": {"digit": 3, "count": 1}, "vae": {"count": 1}, "lm": {"tune": "测试调", "opening": "春风"}}[kind]
    from generation.usage import usage_job_counted

    finished = status in Job.FINISHED
    job = Job.objects.create(
        user=user,
        kind=kind,
        params=fields.pop("params", params),
        seed=fields.pop("seed", 7),
        status=status,
        finished_at=timezone.now() if finished else None,
        **fields,
    )
    if status not in (Job.Status.REFUSED, Job.Status.CANCELLED, Job.Status.FAILED):
        usage_job_counted(job=job)  # as job_submit counts a job it stores
    return job


def output_make(job: Job, *, index: int = 0) -> Output:
    produce_id = uuid.uuid4().hex
    if job.kind == "lm":
        content, media, extension, text = "春风花月夜".encode(), Output.Media.TEXT, "md", "春风花月夜"
    else:
        content, media, extension, text = png_bytes(), Output.Media.IMAGE, "png", ""
    name = default_storage.save(f"outputs/{job.public_id.hex}/{produce_id}.{extension}", ContentFile(content))
    return Output.objects.create(
        job=job,
        index=index,
        produce_id=produce_id,
        media=media,
        file=name,
        text=text,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def error_of(response: Any) -> dict[str, Any]:
    """The API's error body of ``response`` (``{"error": {"code", "message", "fields"}}``), checked for its keys."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]
