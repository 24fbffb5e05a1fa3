"""The whole filing package of a service: its files, in the zip with their manifest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from django.utils import timezone, translation

from filing.models import SelfAssessment, Service
from filing.package.documents import application_form, assessment_report
from filing.package.office import pdf_from_docx, zip_entry
from filing.package.sheets import datasets_xlsx, keywords_xlsx, latest_assessment_run, questions_xlsx
from filing.safety.selectors import keyword_library_version_current, safety_config
from filing.selectors import service_datasets

KEYWORDS_NAME = "附件4-拦截关键词列表.xlsx"
QUESTIONS_NAME = "附件5-评估测试题.xlsx"
FORM_NAME = "生成式人工智能服务上线备案表.docx"
REPORT_NAME = "附件1-安全评估报告.docx"
DATASETS_NAME = "语料来源表.xlsx"

Progress = Callable[[int, str], None]


def _stored(field_file: Any) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


def _record_version(obj: Any) -> dict[str, Any]:
    stamp = getattr(obj, "updated_at", None) or getattr(obj, "uploaded_at", None)
    return {"model": obj._meta.label_lower, "id": obj.pk, "updated_at": stamp.isoformat() if stamp else None}


def package_build(service: Service, *, progress: Progress | None = None, with_pdf: bool = True) -> tuple[bytes, dict]:
    """The zip bytes and the manifest of the filing package of ``service`` (always in Chinese)."""
    with translation.override("zh-hans"):
        return _package_build(service, progress=progress, with_pdf=with_pdf)


def _package_build(service: Service, *, progress: Progress | None, with_pdf: bool) -> tuple[bytes, dict]:
    step = progress or (lambda _pct, _what: None)
    service = Service.objects.select_related("provider").get(pk=service.pk)
    files: list[tuple[str, bytes]] = []

    step(5, "application form")
    files.append((FORM_NAME, application_form(service)))

    step(20, "self-assessment report")
    assessment = (
        service.assessments.filter(status=SelfAssessment.Status.FINALISED).order_by("-finalised_at", "-pk").first()
        or service.assessments.order_by("-created_at", "-pk").first()
    )
    report = assessment_report(assessment, service)
    files.append((REPORT_NAME, report))
    pdf = pdf_from_docx(report) if with_pdf else None
    if pdf is not None:
        files.append((REPORT_NAME.replace(".docx", ".pdf"), pdf))

    step(40, "keyword list")
    files.append((KEYWORDS_NAME, keywords_xlsx()))

    step(55, "test questions")
    files.append((QUESTIONS_NAME, questions_xlsx(service)))

    step(65, "dataset provenance")
    # Every dataset of the service: linked to it or to its model records, or named by their training runs.
    datasets = list(service_datasets(service).prefetch_related("evidence"))
    files.append((DATASETS_NAME, datasets_xlsx(datasets, service=service)))

    step(75, "stored documents")
    documents = list(service.documents.order_by("kind", "version", "pk"))
    for doc in documents:
        base = (doc.file.name or "").rsplit("/", 1)[-1]
        files.append((f"documents/{doc.kind}-v{doc.version}-{base}", _stored(doc.file)))
    evidence = [e for d in datasets for e in d.evidence.order_by("pk")]
    for item in evidence:
        base = (item.file.name or "").rsplit("/", 1)[-1]
        files.append((f"evidence/{item.dataset_id}-{item.kind}-{item.pk}-{base}", _stored(item.file)))

    step(90, "manifest")
    records = [service.provider, service, *service.model_records.order_by("pk"), *datasets, *documents, *evidence]
    if assessment is not None:
        records.append(assessment)
    run = latest_assessment_run(service)
    manifest = {
        "service": {"id": service.pk, "name": service.name, "version": service.version},
        "generated_at": timezone.now().isoformat(),
        "keyword_library_version": keyword_library_version_current(),
        "safety_config_version": safety_config().version,
        "records": [_record_version(r) for r in records],
        "assessment_run": {"id": run.pk, "seed": run.seed} if run is not None else None,
        "files": [
            {"name": name, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)} for name, body in files
        ],
        "pdf": pdf is not None,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in [*files, ("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode())]:
            archive.writestr(zip_entry(name), body)
    step(100, "done")
    return out.getvalue(), manifest
