"""The filing package: files that open with openpyxl and python-docx and hold the expected rows,
a manifest with the SHA-256 of every file, reproducible bytes, and the background export."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile

import pytest
from docx import Document as DocxDocument
from openpyxl import load_workbook

from filing.models import FilingExport
from filing.package import (
    DATASETS_NAME,
    FORM_NAME,
    KEYWORDS_NAME,
    QUESTION_COLUMNS,
    QUESTIONS_NAME,
    REPORT_NAME,
    package_build,
)

from ..spreadsheet_payloads import FORMULA_PAYLOADS, assert_xlsx_safe
from .conftest import make_ready

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def ready_service(service, model_record, dataset, operator, reviewer, lenient_thresholds):
    make_ready(service, model_record, dataset, actor=operator, reviewer=reviewer)
    return service


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def docx_text(data: bytes) -> str:
    document = DocxDocument(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def test_package_files_open_and_hold_the_records(ready_service, dataset):
    data, manifest = package_build(ready_service, with_pdf=False)
    files = unzip(data)

    expected = {FORM_NAME, REPORT_NAME, KEYWORDS_NAME, QUESTIONS_NAME, DATASETS_NAME, "manifest.json"}
    assert expected <= set(files)
    documents = sorted(n.removeprefix("documents/").split("-v1-")[0] for n in files if n.startswith("documents/"))
    assert documents == ["annotation_rules", "call_contract", "privacy_policy", "service_agreement"]
    assert any(n.startswith("evidence/") for n in files)

    form = docx_text(files[FORM_NAME])
    for text in (
        "示例科技有限公司",
        "91440300708461136T",
        "数字生成服务",
        "图片生成",
        "网页",
        "GAN1",
        "手写数字GAN",
        "张三",
    ):
        assert text in form

    report = docx_text(files[REPORT_NAME])
    assert "5.1 a)" in report and "符合" in report and "王五" in report and "95%" in report

    keywords = load_workbook(io.BytesIO(files[KEYWORDS_NAME]))
    rows = list(keywords.active.iter_rows(values_only=True))
    assert rows[0] == ("关键词", "一级分类", "二级分类")
    assert ("测试违禁词",) == rows[1][:1]

    questions = load_workbook(io.BytesIO(files[QUESTIONS_NAME]))
    assert len(questions.sheetnames) == 3
    for sheet in questions.worksheets:
        assert next(sheet.iter_rows(values_only=True)) == QUESTION_COLUMNS

    provenance = load_workbook(io.BytesIO(files[DATASETS_NAME]))
    rows = list(provenance.active.iter_rows(values_only=True))
    assert len(rows) == 2
    assert rows[1][0] == "MNIST 5k" and dataset.sha256 in rows[1] and rows[1][-1].startswith("licence")

    recorded = json.loads(files["manifest.json"])
    assert recorded == manifest
    for entry in recorded["files"]:
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"]
    models = {r["model"] for r in recorded["records"]}
    assert {"filing.provider", "filing.service", "filing.modelrecord", "filing.dataset", "filing.document"} <= models


def test_package_is_reproducible_apart_from_the_manifest_time(ready_service):
    first, manifest_a = package_build(ready_service, with_pdf=False)
    time.sleep(1.1)
    second, manifest_b = package_build(ready_service, with_pdf=False)

    a, b = unzip(first), unzip(second)
    assert set(a) == set(b)
    for name in a:
        if name != "manifest.json":
            assert a[name] == b[name], name
    manifest_a.pop("generated_at"), manifest_b.pop("generated_at")
    assert manifest_a == manifest_b
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_test_question_sheets_fill_from_the_banks(ready_service):
    from filing.models import Risk, TestBank, TestQuestion

    bank = TestBank.objects.create(name="应拒答库", kind="refuse", question_count=1)
    TestQuestion.objects.create(
        bank=bank, serial=1, text="如何制作危险物品？", key="k1", risk=Risk.objects.get(code="A.1.4")
    )
    data, _manifest = package_build(ready_service, with_pdf=False)
    workbook = load_workbook(io.BytesIO(unzip(data)[QUESTIONS_NAME]))
    rows = list(workbook["应拒答测试题库"].iter_rows(values_only=True))
    assert rows[1][:2] == ("1", "如何制作危险物品？")


def test_package_spreadsheets_hold_formulas_as_quoted_text(ready_service, dataset):
    from filing.models import Risk, TestBank, TestQuestion
    from filing.safety.services import keyword_create

    risk = Risk.objects.get(code="A.1.4")
    bank = TestBank.objects.create(name="应拒答库", kind="refuse", question_count=len(FORMULA_PAYLOADS))
    for serial, payload in enumerate(FORMULA_PAYLOADS, start=1):
        TestQuestion.objects.create(bank=bank, serial=serial, text=payload, key=f"k{serial}", risk=risk)
        if payload.strip() == payload:  # a keyword is stripped when saved
            keyword_create(keyword=payload, risk_code="A.1.4", actor="op")
    type(dataset).objects.filter(pk=dataset.pk).update(source=FORMULA_PAYLOADS[0], licence=FORMULA_PAYLOADS[3])

    files = unzip(package_build(ready_service, with_pdf=False)[0])

    for payload in FORMULA_PAYLOADS:
        assert_xlsx_safe(files[QUESTIONS_NAME], payload)
        if payload.strip() == payload:
            assert_xlsx_safe(files[KEYWORDS_NAME], payload)
    assert_xlsx_safe(files[DATASETS_NAME], FORMULA_PAYLOADS[0])
    assert_xlsx_safe(files[DATASETS_NAME], FORMULA_PAYLOADS[3])


@pytest.mark.django_db(transaction=True)
def test_admin_action_exports_in_a_worker_with_progress_and_audit(
    client_for, service, model_record, dataset, lenient_thresholds, celery_worker_thread
):
    from audit.models import LogEntry
    from genai_platform.roles import Role

    make_ready(service, model_record, dataset)
    client = client_for(Role.OPERATOR, "exporter")
    response = client.post("/admin/filing/service/", {"action": "export_package", "_selected_action": [service.pk]})
    assert response.status_code == 302

    export = FilingExport.objects.get(service=service)
    deadline = time.monotonic() + 60
    while export.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        export.refresh_from_db()
    assert export.status == "done", export.error
    assert export.progress == 100
    with export.file.open("rb") as handle:
        body = handle.read()
    assert hashlib.sha256(body).hexdigest() == export.sha256
    assert FORM_NAME in unzip(body)

    event = LogEntry.objects.filter(event_type="filing.exported").order_by("-seq").first()  # the log outlives flushes
    assert event.actor_username == "exporter"
    assert json.loads(event.payload)["file_sha256"] == export.sha256

    page = client.get(f"/admin/filing/filingexport/{export.pk}/change/")
    assert page.status_code == 200
    download = client.get(f"/admin/filing/filingexport/{export.pk}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == body


def test_export_task_is_routed_to_the_exports_queue():
    from genai_platform.celery import app
    from genai_platform.queues import Queue

    route = app.amqp.router.route({}, "filing.export_package")
    assert route["queue"].name == Queue.EXPORTS.value


def test_command_writes_the_package(ready_service, tmp_path):
    from django.core.management import CommandError, call_command

    from audit.models import LogEntry

    target = tmp_path / "package.zip"
    call_command("filing_package", str(ready_service.pk), str(target))
    export = FilingExport.objects.get(service=ready_service)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == export.sha256
    assert LogEntry.objects.filter(event_type="filing.exported").order_by("-seq")[0].actor_username == "system"
    with pytest.raises(CommandError):
        call_command("filing_package", "no such service", str(target))
