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


@pytest.fixture
def complete_service(ready_service, user_with_role, settings):
    """A ready service whose package lacks nothing: its agreement and privacy policy published on the site, a
    tester account, and the platform's public address for the test channel."""
    from django.utils import timezone

    from filing.models import Document
    from genai_platform.roles import Role

    settings.PLATFORM_PUBLIC_URL = "https://ai.example.cn"
    for kind in (Document.Kind.SERVICE_AGREEMENT, Document.Kind.PRIVACY_POLICY):
        ready_service.documents.filter(kind=kind).update(
            body=f"{kind} 第一段。\n\n{kind} 第二段。", published_at=timezone.now()
        )
    ready_service.testers.add(user_with_role(Role.END_USER, "reviewer-tester"))
    return ready_service


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


def test_package_files_open_and_hold_the_records(complete_service, dataset):
    data, manifest = package_build(complete_service, with_pdf=False)
    files = unzip(data)

    expected = {FORM_NAME, REPORT_NAME, KEYWORDS_NAME, QUESTIONS_NAME, DATASETS_NAME, "manifest.json"}
    assert expected <= set(files)
    # The stored documents go where the filing puts them: 附件2 (agreement, privacy policy: published only),
    # 附件3 (annotation rules), 附件7 (the contract for calling a filed model, the datasets' evidence).
    copied = [n for n in files if n.startswith("附件3/")]
    assert len(copied) == 1 and copied[0].startswith("附件3/语料标注规则-v1-annotation_rules")
    assert files[copied[0]] == b"annotation_rules"
    assert any(n.startswith("附件7/调用协议-") for n in files)
    assert any(n.startswith(f"附件7/语料-{dataset.pk}-licence-") and "licence" in n.rsplit("-", 1)[-1] for n in files)

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
    assert len(rows) == 3 and rows[2][0] == "合计"  # the dataset and the total
    assert (
        rows[1][0] == "MNIST 5k"
        and dataset.sha256 in rows[1]
        and rows[1][-1].startswith("许可：附件7/")
        and rows[1][-1].split("：", 1)[1] in files
    )

    recorded = json.loads(files["manifest.json"])
    assert recorded == manifest
    for entry in recorded["files"]:
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"]
    models = {r["model"] for r in recorded["records"]}
    assert {"filing.provider", "filing.service", "filing.modelrecord", "filing.dataset", "filing.document"} <= models


def test_package_is_reproducible_apart_from_the_manifest_time(complete_service):
    first, manifest_a = package_build(complete_service, with_pdf=False)
    time.sleep(1.1)
    second, manifest_b = package_build(complete_service, with_pdf=False)

    a, b = unzip(first), unzip(second)
    assert set(a) == set(b)
    for name in a:
        if name != "manifest.json":
            assert a[name] == b[name], name
    manifest_a.pop("generated_at"), manifest_b.pop("generated_at")
    assert manifest_a == manifest_b
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_test_question_sheets_fill_from_the_banks(complete_service):
    from filing.models import Risk, TestBank, TestQuestion

    bank = TestBank.objects.create(name="应拒答库", kind="refuse", question_count=1)
    TestQuestion.objects.create(
        bank=bank, serial=1, text="如何制作危险物品？", key="k1", risk=Risk.objects.get(code="A.1.4")
    )
    data, _manifest = package_build(complete_service, with_pdf=False)
    workbook = load_workbook(io.BytesIO(unzip(data)[QUESTIONS_NAME]))
    rows = list(workbook["应拒答测试题库"].iter_rows(values_only=True))
    assert rows[1][:2] == ("1", "如何制作危险物品？")


def test_package_spreadsheets_hold_formulas_as_quoted_text(complete_service, dataset):
    from filing.models import Risk, TestBank, TestQuestion
    from filing.safety.services import keyword_create

    risk = Risk.objects.get(code="A.1.4")
    bank = TestBank.objects.create(name="应拒答库", kind="refuse", question_count=len(FORMULA_PAYLOADS))
    for serial, payload in enumerate(FORMULA_PAYLOADS, start=1):
        TestQuestion.objects.create(bank=bank, serial=serial, text=payload, key=f"k{serial}", risk=risk)
        if payload.strip() == payload:  # a keyword is stripped when saved
            keyword_create(keyword=payload, risk_code="A.1.4", actor="op")
    type(dataset).objects.filter(pk=dataset.pk).update(source=FORMULA_PAYLOADS[0], licence=FORMULA_PAYLOADS[3])

    files = unzip(package_build(complete_service, with_pdf=False)[0])

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


#
# The whole package: every attachment, numbered; a complete service's package is final, an incomplete one a draft.
#
GENERATED = (".docx", ".xlsx")


def docx_header_text(data: bytes) -> str:
    document = DocxDocument(io.BytesIO(data))
    return "\n".join(p.text for section in document.sections for p in section.header.paragraphs)


def first_cells(data: bytes) -> list[object]:
    """The first cell of every sheet of an XLSX file."""
    workbook = load_workbook(io.BytesIO(data))
    return [sheet.cell(row=1, column=1).value for sheet in workbook.worksheets]


def generated_files(files: dict[str, bytes]) -> dict[str, bytes]:
    """The Word and Excel files the package writes (not the stored files copied in)."""
    return {n: b for n, b in files.items() if "/" not in n and n.endswith(GENERATED)}


def test_complete_service_package_has_every_attachment_matching_hashes_and_no_draft_mark(complete_service):
    from filing.package import AGREEMENT_NAME, ANNOTATION_NAME, DRAFT_MARK, EVIDENCE_NAME, TEST_CHANNEL_NAME

    data, manifest = package_build(complete_service, with_pdf=False)
    files = unzip(data)

    assert manifest["draft"] is False
    assert manifest["open_items"] == [] and manifest["missing"] == [] and manifest["draft_reasons"] == []
    assert manifest["synthetic"] == []
    # 上线备案表 and 附件1 to 附件7, numbered without a gap; 附件6 does not apply and says why.
    numbered = [a for a in manifest["attachments"] if a["number"] is not None]
    assert [a["number"] for a in numbered] == list(range(8))
    assert [a["name"] for a in numbered[1:]] == [f"附件{n}" for n in range(1, 8)]
    statuses = {a["name"]: a["status"] for a in manifest["attachments"]}
    assert statuses.pop("附件6") == "not_applicable"
    assert set(statuses.values()) == {"present"}, statuses
    assert next(a for a in numbered if a["name"] == "附件6")["reason"]
    for name in (FORM_NAME, REPORT_NAME, AGREEMENT_NAME, ANNOTATION_NAME, KEYWORDS_NAME, QUESTIONS_NAME):
        assert name in files
    assert {EVIDENCE_NAME, TEST_CHANNEL_NAME, DATASETS_NAME} <= set(files)

    # Every file of the zip is in the manifest with its hash and size, and nothing else is.
    listed = {entry["name"]: entry for entry in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for name, body in files.items():
        if name != "manifest.json":
            assert listed[name]["sha256"] == hashlib.sha256(body).hexdigest(), name
            assert listed[name]["size"] == len(body), name

    # No draft mark anywhere.
    for name, body in generated_files(files).items():
        if name.endswith(".docx"):
            assert "草稿" not in docx_header_text(body) + docx_text(body), name
        else:
            assert not any(str(cell or "").startswith("草稿") for cell in first_cells(body)), name
    assert DRAFT_MARK not in json.dumps(manifest, ensure_ascii=False)


def test_form_has_the_commitment_page_and_the_signature_and_seal_block(complete_service):
    files = unzip(package_build(complete_service, with_pdf=False)[0])
    form = DocxDocument(io.BytesIO(files[FORM_NAME]))
    text = docx_text(files[FORM_NAME])

    assert "承诺书" in [p.text for p in form.paragraphs if p.style.name.startswith("Heading")]
    assert "承诺单位：示例科技有限公司" in text and "真实、准确、完整" in text
    # Signed by the legal representative and the safety-assessment lead, sealed and dated: on the form and on the
    # commitment page.
    assert text.count("法定代表人（签字）") == 2 and text.count("安全评估负责人（签字）") == 2
    assert text.count("单位（盖章）") == 2 and text.count("年　　月　　日") == 2
    # The commitment starts a page of its own.
    assert b'w:type="page"' in zipfile.ZipFile(io.BytesIO(files[FORM_NAME])).read("word/document.xml")


def test_agreement_annotation_evidence_and_test_channel(complete_service, dataset):
    from django.utils import translation

    from filing.models import DatasetEvidence, Document
    from filing.package import AGREEMENT_NAME, ANNOTATION_NAME, EVIDENCE_NAME, TEST_CHANNEL_NAME

    files = unzip(package_build(complete_service, with_pdf=False)[0])

    agreement = docx_text(files[AGREEMENT_NAME])
    assert "2.1 服务协议" in agreement and "2.2 隐私政策" in agreement
    assert "service_agreement 第二段。" in agreement and "privacy_policy 第一段。" in agreement
    copies = sorted(n for n in files if n.startswith("附件2/"))
    assert [n.split("-v1-")[0] for n in copies] == ["附件2/2.1-服务协议", "附件2/2.2-隐私政策"]
    for name, kind in zip(copies, ("service_agreement", "privacy_policy"), strict=True):
        assert files[name] == kind.encode()
        assert hashlib.sha256(files[name]).hexdigest() in agreement
    assert Document.objects.filter(service=complete_service, kind="call_contract").exists()

    assert "语料标注规则" in docx_text(files[ANNOTATION_NAME]) and "不涉及" not in docx_text(files[ANNOTATION_NAME])

    index = list(load_workbook(io.BytesIO(files[EVIDENCE_NAME])).active.iter_rows(values_only=True))
    assert index[0] == ("序号", "文件（包内路径）", "类别", "证明对象", "说明", "SHA-256", "字节数")
    by_path = {row[1]: row for row in index[1:]}
    assert set(by_path) == {n for n in files if n.startswith("附件7/")}
    for path, row in by_path.items():
        assert row[5] == hashlib.sha256(files[path]).hexdigest() and row[6] == len(files[path])
    with translation.override("zh-hans"):
        licence = str(DatasetEvidence.Kind.LICENCE.label)
    assert any("MNIST 5k" in row[3] and row[2] == licence for row in index[1:])
    assert any(row[2] == "调用协议" for row in index[1:])

    channel = docx_text(files[TEST_CHANNEL_NAME])
    assert "reviewer-tester" in channel
    assert "https://ai.example.cn/api/v1/auth/token/" in channel and "https://ai.example.cn/api/v1/jobs/" in channel
    assert "Authorization: Token <令牌>" in channel
    assert "不带安全策略" in channel


def test_manifest_names_the_self_assessments_assessment_run(complete_service, model_record):
    from filing.models import AssessmentRun, SelfAssessment

    run = AssessmentRun.objects.create(
        seed=42, config_version=1, model_record=model_record, status="succeeded", created_by="op"
    )
    SelfAssessment.objects.filter(service=complete_service).update(assessment_run=run)

    manifest = package_build(complete_service, with_pdf=False)[1]

    assert manifest["assessment_run"] == {"id": run.pk, "seed": 42, "linked_to_self_assessment": True}
    assert manifest["self_assessment"]["status"] == "finalised"


@pytest.fixture
def incomplete_service(service, lenient_thresholds):
    """A service with nothing done but a keyword library and test banks of synthetic demo entries."""
    from filing.safety.bank_demo import banks_demo_create
    from filing.safety.demo import keyword_library_demo_create

    keyword_library_demo_create(actor="test", size=40)
    banks_demo_create(sizes={"generated": 5, "refuse": 4, "nonrefuse": 3})
    return service


def test_incomplete_service_package_is_a_draft_on_every_document(incomplete_service):
    from filing.models import Keyword
    from filing.package import AGREEMENT_NAME, ANNOTATION_NAME, DRAFT_MARK, EVIDENCE_NAME, TEST_CHANNEL_NAME
    from filing.readiness import readiness_checklist

    data, manifest = package_build(incomplete_service, with_pdf=False)
    files = unzip(data)

    assert manifest["draft"] is True
    # The open readiness items, each named.
    open_keys = {item.key for item in readiness_checklist(incomplete_service) if not item.ok}
    assert {item["key"] for item in manifest["open_items"]} == open_keys
    assert {"model_records", "datasets", "assessment", "documents", "keywords"} <= open_keys
    # The missing files, by attachment.
    missing = {(m["attachment"], m["item"]) for m in manifest["missing"]}
    assert ("附件1", "安全评估报告") in missing
    assert ("附件2", "2.1 服务协议（已发布版本）") in missing and ("附件2", "2.2 隐私政策（已发布版本）") in missing
    assert ("附件3", "语料标注规则") in missing and ("附件7", "佐证材料") in missing
    assert ("测试通道", "带安全策略的测试账号") in missing
    statuses = {a["name"]: a["status"] for a in manifest["attachments"]}
    assert statuses["附件3"] == "missing" and statuses["附件6"] == "not_applicable"
    # The synthetic content: every demo keyword of 附件4 and the demo questions of each sheet of 附件5.
    synthetic = {(s["attachment"], s.get("sheet", "")): s["count"] for s in manifest["synthetic"]}
    assert synthetic[("附件4", "")] == Keyword.objects.filter(origin="demo", enabled=True).count() == 40
    assert synthetic[("附件5", "生成内容测试题库（A.1-A.5）")] == 5
    assert synthetic[("附件5", "应拒答测试题库")] == 4 and synthetic[("附件5", "非拒答测试题库")] == 3
    assert any("演示关键词" in line for line in manifest["draft_reasons"])

    # Every Word file: 草稿 in its header and the open items on its first page; every sheet: a first-row note.
    generated = generated_files(files)
    assert {FORM_NAME, REPORT_NAME, AGREEMENT_NAME, ANNOTATION_NAME, TEST_CHANNEL_NAME} <= set(generated)
    assert {KEYWORDS_NAME, QUESTIONS_NAME, EVIDENCE_NAME, DATASETS_NAME} <= set(generated)
    item_title = manifest["open_items"][0]["title"]
    for name, body in generated.items():
        if name.endswith(".docx"):
            assert DRAFT_MARK in docx_header_text(body), name
            paragraphs = [p.text for p in DocxDocument(io.BytesIO(body)).paragraphs]
            assert paragraphs[0] == DRAFT_MARK, name
            assert any(item_title in p for p in paragraphs[1 : 1 + len(manifest["draft_reasons"])]), name
        else:
            cells = first_cells(body)
            assert cells and all(str(c).startswith(DRAFT_MARK) for c in cells), (name, cells)
    for entry in manifest["files"]:
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"]
    assert json.loads(files["manifest.json"]) == manifest


def test_annotation_rules_not_applicable_with_the_operators_reason(complete_service):
    from filing.package import ANNOTATION_NAME
    from filing.readiness import readiness_checklist

    complete_service.documents.filter(kind="annotation_rules").delete()
    type(complete_service).objects.filter(pk=complete_service.pk).update(
        annotation_not_applicable_reason="仅使用公开许可的已标注数据集，未自行标注。"
    )

    data, manifest = package_build(complete_service, with_pdf=False)
    text = docx_text(unzip(data)[ANNOTATION_NAME])

    assert "不涉及。" in text and "理由：仅使用公开许可的已标注数据集，未自行标注。" in text
    annotation = next(a for a in manifest["attachments"] if a["name"] == "附件3")
    assert annotation["status"] == "not_applicable" and annotation["reason"].startswith("仅使用")
    complete_service.refresh_from_db()
    assert [item.ok for item in readiness_checklist(complete_service) if item.key == "documents"] == [True]
    assert manifest["draft"] is False


def test_an_unpublished_privacy_policy_is_missing_not_attached(complete_service):
    from filing.package import AGREEMENT_NAME

    complete_service.documents.filter(kind="privacy_policy").update(published_at=None)

    data, manifest = package_build(complete_service, with_pdf=False)
    files = unzip(data)

    assert {"attachment": "附件2", "item": "2.2 隐私政策（已发布版本）", "detail": "仅有未发布的版本 1"} in manifest[
        "missing"
    ]
    assert not [n for n in files if n.startswith("附件2/2.2")]
    assert manifest["draft"] is True and "草稿" in docx_header_text(files[AGREEMENT_NAME])


def test_admin_export_warns_with_the_open_items(client_for, incomplete_service):
    import html

    from django.contrib.messages import get_messages
    from django.utils import translation

    from filing.package import package_open_items
    from genai_platform.roles import Role

    client = client_for(Role.OPERATOR, "exporter")
    response = client.post(
        "/admin/filing/service/", {"action": "export_package", "_selected_action": [incomplete_service.pk]}
    )

    assert response.status_code == 302
    shown = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert len(shown) == 1 and shown[0][0] == "warning"
    # The page speaks the site's language (Chinese here): every open item is listed, as readiness words it.
    with translation.override("zh-hans"):
        lines = package_open_items(incomplete_service)
    assert lines and "草稿" in shown[0][1] and shown[0][1].count("<li>") == len(lines)
    for line in lines:
        assert f"<li>{html.escape(line)}</li>" in shown[0][1]
    assert FilingExport.objects.filter(service=incomplete_service).count() == 1  # exported all the same


def test_command_prints_the_open_items_and_final_refuses(incomplete_service, tmp_path, client_for):
    import html

    from django.core.management import CommandError, call_command

    from genai_platform.roles import Role

    target = tmp_path / "package.zip"
    err = io.StringIO()
    call_command("filing_package", str(incomplete_service.pk), str(target), stderr=err)

    export = FilingExport.objects.get(service=incomplete_service)
    assert export.draft and export.file.name.endswith("-draft.zip")
    assert "the package is a draft" in err.getvalue()
    assert "Every model record approved, with a model code" in err.getvalue()
    assert "附件2：缺2.1 服务协议（已发布版本）" in err.getvalue()
    assert any(line.startswith("附件4：含 40 条演示关键词") for line in export.open_items)
    page = client_for(Role.OPERATOR, "viewer").get(f"/admin/filing/filingexport/{export.pk}/change/")
    assert page.status_code == 200
    assert all(f"<li>{html.escape(line)}</li>" in page.content.decode() for line in export.open_items)
    # who asked for it, by name: a link would lead the operator to the user pages only superusers may open
    assert "/admin/genai_platform/user/" not in page.content.decode()
    assert "100% 已完成" in page.content.decode() and "100% done" not in page.content.decode(), "the step translated"

    with pytest.raises(CommandError, match="--final"):
        call_command("filing_package", str(incomplete_service.pk), str(tmp_path / "final.zip"), "--final", stderr=err)
    assert not (tmp_path / "final.zip").exists()


def test_package_files_open_in_libreoffice(complete_service, incomplete_service, tmp_path):
    import shutil
    import subprocess

    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.skip("LibreOffice is not installed")
    for index, service in enumerate((complete_service, incomplete_service)):
        files = unzip(package_build(service, with_pdf=False)[0])
        for position, (name, body) in enumerate(generated_files(files).items()):
            source = tmp_path / f"{index}-{position}{name[name.rindex('.') :]}"
            source.write_bytes(body)
            target = "pdf"
            done = subprocess.run(
                [office, "--headless", "--convert-to", target, "--outdir", str(tmp_path / "out"), str(source)],
                capture_output=True,
                timeout=180,
            )
            assert done.returncode == 0, (name, done.stderr)
            assert (tmp_path / "out" / f"{source.stem}.pdf").exists(), name
