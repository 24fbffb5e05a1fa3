"""Keyword library: versions on every change, CSV/XLSX import and export, coverage, demo library, admin."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import translation
from openpyxl import Workbook, load_workbook

from filing.models import AllowlistPhrase, Keyword, KeywordLibraryVersion
from filing.safety.demo import DEMO_NOTE, keyword_library_demo_create
from filing.safety.keyword_io import ImportMode, keyword_rows, keywords_import
from filing.safety.selectors import keyword_coverage, keyword_library_version_current, safety_config
from filing.safety.services import (
    allowlist_phrase_create,
    keyword_create,
    keyword_save,
    keywords_delete,
    keywords_update,
)
from filing.safety.tabular import ImportFileError

from ..spreadsheet_payloads import FORMULA_PAYLOADS, STRIPPED, assert_csv_safe, assert_xlsx_safe, csv_cells

pytestmark = pytest.mark.django_db


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8-sig"))


def xlsx_file(rows: list[list[str]]) -> io.BytesIO:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    return data


#
# Versions
#


def test_every_change_creates_a_new_version():
    assert keyword_library_version_current() == 0
    entry = keyword_create(keyword="测试词", risk_code="A.1.6", actor="op")
    assert keyword_library_version_current() == 1
    entry.notes = "changed"
    keyword_save(keyword=entry, actor="op")
    assert keyword_library_version_current() == 2
    keywords_update(keywords=Keyword.objects.all(), enabled=False, actor="op")
    assert keyword_library_version_current() == 3
    allowlist_phrase_create(phrase="测试词典", actor="op")
    assert keyword_library_version_current() == 4
    keywords_delete(keywords=Keyword.objects.all(), actor="op")
    latest = KeywordLibraryVersion.objects.get(number=5)
    assert latest.created_by == "op"
    assert latest.keyword_count == 0
    assert latest.allowlist_count == 1
    # A change that touches nothing makes no version.
    assert keywords_delete(keywords=Keyword.objects.all(), actor="op") is None
    assert keyword_library_version_current() == 5


def test_keywords_differing_only_in_width_or_case_are_duplicates():
    keyword_create(keyword="BadWord", risk_code="A.1.6", actor="op")
    with pytest.raises(ValidationError) as caught:
        keyword_create(keyword="ｂａｄ ｗｏｒｄ", risk_code="A.1.6", actor="op")
    assert "BadWord" in caught.value.message_dict["keyword"][0]
    assert keyword_library_version_current() == 1


#
# Import
#


@pytest.fixture
def english():
    with translation.override("en"):
        yield


def test_import_reports_every_bad_row_with_its_number_and_imports_nothing(english):
    data = csv_file(
        "关键词,一级分类,二级分类\n"
        "好词,A.1,宣扬暴力、淫秽色情\n"  # row 2: fine
        ",违反社会主义核心价值观,传播虚假有害信息\n"  # row 3: empty keyword
        "词二,不存在的分类,传播虚假有害信息\n"  # row 4: unknown category
        "词三,歧视性内容,不存在的风险\n"  # row 5: unknown risk in that category
        "好词,A.1,A.1.6\n"  # row 6: duplicate of row 2
        "ＨＡＯ词,商业违法违规,违反商业道德\n"  # row 7: fine
        "hao词,商业违法违规,违反商业道德\n"  # row 8: duplicate of row 7 (case and width)
    )
    report = keywords_import(stream=data, filename="k.csv", actor="op")
    found = {(e.row, e.column) for e in report.errors}
    assert found == {(3, "关键词"), (4, "一级分类"), (5, "二级分类"), (6, "关键词"), (8, "关键词")}
    messages = {e.row: e.message for e in report.errors}
    assert "row 2" in messages[6] and "row 7" in messages[8]
    assert "不存在的分类" in messages[4]
    assert Keyword.objects.count() == 0
    assert keyword_library_version_current() == 0


def test_clean_csv_imports_in_one_version_with_codes_names_and_optional_columns():
    data = csv_file(
        "关键词,一级分类,二级分类,动作,备注\n"
        "词甲,A.1 违反社会主义核心价值观,宣扬恐怖主义、极端主义,拦截,n1\n"
        "词乙,A.2,A.2.5,标记,\n"
        "词丙,侵犯他人合法权益,侵害他人隐私权,,\n"
    )
    report = keywords_import(stream=data, filename="k.csv", actor="op")
    assert report.ok and report.created == 3
    assert report.version is not None and keyword_library_version_current() == report.version.number == 1
    assert Keyword.objects.get(keyword="词甲").risk_id == "A.1.4"
    assert Keyword.objects.get(keyword="词乙").action == Keyword.Action.FLAG
    assert Keyword.objects.get(keyword="词丙").action == Keyword.Action.BLOCK
    assert {k.origin for k in Keyword.objects.all()} == {"import"}


def test_xlsx_export_reimports_and_replace_mode_removes_unlisted():
    keyword_create(keyword="甲词", risk_code="A.1.1", actor="op")
    keyword_create(keyword="乙词", risk_code="A.3.2", actor="op", action=Keyword.Action.FLAG)
    keyword_create(keyword="丙词", risk_code="A.4.5", actor="op", enabled=False)
    # The attachment form: three columns, enabled entries only, Chinese names.
    rows = list(keyword_rows())
    assert rows[0] == ["关键词", "一级分类", "二级分类"]
    assert ["甲词", "违反社会主义核心价值观", "煽动颠覆国家政权、推翻社会主义制度"] in rows
    assert all(r[0] != "丙词" for r in rows)

    # Re-importing the attachment with replace leaves exactly the enabled entries.
    data = io.BytesIO()
    from filing.safety.keyword_io import xlsx_write

    xlsx_write(keyword_rows(), data)
    data.seek(0)
    assert load_workbook(data).worksheets[0]["A1"].value == "关键词"
    data.seek(0)
    report = keywords_import(stream=data, filename="k.xlsx", actor="op", mode=ImportMode.REPLACE)
    assert report.ok and report.deleted == 1 and report.created == 0
    assert set(Keyword.objects.values_list("keyword", flat=True)) == {"甲词", "乙词"}
    # The full form carries action and enabled and round-trips them.
    full = list(keyword_rows(full=True))
    assert full[0][3:] == ["动作", "启用", "备注"]
    assert ["乙词", "商业违法违规", "违反商业道德", "标记", "是", ""] in full


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_exports_quote_formulas_and_import_back_to_the_same_keywords(admin_client, file_format):
    for payload in FORMULA_PAYLOADS:
        keyword_create(keyword=payload, risk_code="A.1.1", actor="op", notes=payload)
    before = sorted(Keyword.objects.values_list("keyword", "notes"))
    version = keyword_library_version_current()
    # A keyword is stripped when saved (so "\tTAB" is kept as "TAB"); the notes keep every payload as it is.
    keywords = [payload for payload in FORMULA_PAYLOADS if Keyword.objects.filter(keyword=payload).exists()]
    assert len(keywords) == len(FORMULA_PAYLOADS) - len(STRIPPED)
    for full, payloads in (("0", keywords), ("1", FORMULA_PAYLOADS)):
        export = admin_client.get(f"/admin/filing/keyword/export/?format={file_format}&full={full}")
        assert export.status_code == 200
        for payload in payloads:
            if file_format == "csv":
                assert_csv_safe(csv_cells(export.content.decode("utf-8")), payload)
            else:
                assert_xlsx_safe(export.content, payload)

    # The full export imports back (replace) to exactly the keywords and notes it came from.
    report = keywords_import(
        stream=io.BytesIO(export.content), filename=f"k.{file_format}", actor="op", mode=ImportMode.REPLACE
    )
    assert report.ok, report.errors
    assert (report.created, report.updated, report.deleted) == (0, 0, 0)
    assert report.unchanged == len(FORMULA_PAYLOADS)
    assert sorted(Keyword.objects.values_list("keyword", "notes")) == before
    assert keyword_library_version_current() == version


def test_xlsx_import_with_errors_and_unreadable_files(english):
    bad = xlsx_file([["关键词", "一级分类", "二级分类"], ["词", "A.9", "A.9.1"], ["", "A.1", "A.1.1"]])
    report = keywords_import(stream=bad, filename="k.xlsx", actor="op")
    assert [(e.row, e.column) for e in report.errors] == [(2, "一级分类"), (3, "关键词")]
    with pytest.raises(ImportFileError):
        keywords_import(stream=io.BytesIO(b"not a workbook"), filename="k.xlsx", actor="op")
    with pytest.raises(ImportFileError, match="missing"):
        keywords_import(stream=csv_file("word,kind\n"), filename="k.csv", actor="op")
    with pytest.raises(ImportFileError):
        keywords_import(stream=csv_file(""), filename="k.txt", actor="op")


def test_import_command_reports_rows_and_fails(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("关键词,一级分类,二级分类\n词,A.1,无此风险\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 bad rows"):
        call_command("keywords_import", str(path), stderr=err)
    assert "第 2 行" in err.getvalue() or "Row 2" in err.getvalue()
    path.write_text("关键词,一级分类,二级分类\n词,A.1,A.1.2\n", encoding="utf-8")
    call_command("keywords_import", str(path), stdout=io.StringIO())
    assert Keyword.objects.get().risk_id == "A.1.2"
    out_path = tmp_path / "out.csv"
    call_command("keywords_export", str(out_path), stdout=io.StringIO())
    assert (
        out_path.read_text(encoding="utf-8-sig").splitlines()[1]
        == "词,违反社会主义核心价值观,危害国家安全和利益、损害国家形象"
    )


#
# Coverage and demo library
#


def test_coverage_against_configuration():
    config = safety_config()
    keyword_create(keyword="词一", risk_code="A.1.1", actor="op")
    keyword_create(keyword="词二", risk_code="A.1.1", actor="op", enabled=False)
    coverage = keyword_coverage()
    assert coverage.total == 1 and coverage.total_minimum == config.keyword_library_min_total
    assert not coverage.total_ok
    by_code = {row.code: row for row in coverage.risks}
    assert len(by_code) == 31
    assert by_code["A.1.1"].count == 1 and by_code["A.1.1"].minimum == config.keyword_min_per_a1_risk
    assert by_code["A.2.3"].minimum == config.keyword_min_per_a2_risk
    assert by_code["A.5.1"].minimum == 0 and by_code["A.5.1"].ok
    assert coverage.update_ok and coverage.days_since_update == 0
    assert coverage.disabled_count == 1


def test_demo_library_meets_configured_coverage_and_is_marked(settings):
    result = keyword_library_demo_create(actor="test", size=None)
    coverage = keyword_coverage()
    assert coverage.total == result.keywords >= safety_config().keyword_library_min_total
    assert coverage.total_ok and coverage.risks_ok and coverage.update_ok
    # Marked as demo, so the library is not "ok" for filing while demo entries remain.
    assert coverage.demo_count == coverage.total and not coverage.ok
    assert set(Keyword.objects.values_list("notes", flat=True)) == {DEMO_NOTE}
    assert all(k.startswith("演示") for k in Keyword.objects.values_list("keyword", flat=True))
    assert AllowlistPhrase.objects.filter(origin="demo").exists()
    # Running it again replaces, and --remove leaves real entries alone.
    keyword_create(keyword="真实词", risk_code="A.3.1", actor="op")
    call_command("keywords_demo", "--size", "50", stdout=io.StringIO())
    assert Keyword.objects.filter(origin="demo").count() == 50
    call_command("keywords_demo", "--remove", stdout=io.StringIO())
    assert list(Keyword.objects.values_list("keyword", flat=True)) == ["真实词"]


#
# Admin
#


def test_admin_pages_import_errors_export_and_coverage(admin_client):
    keyword_create(keyword="词一", risk_code="A.1.1", actor="op")
    assert admin_client.get("/admin/filing/keyword/").status_code == 200
    assert admin_client.get("/admin/filing/keyword/?q=词一").status_code == 200
    coverage = admin_client.get("/admin/filing/keyword/coverage/")
    assert coverage.status_code == 200 and "A.1.1" in coverage.content.decode()

    bad = SimpleUploadedFile("k.csv", "关键词,一级分类,二级分类\n,A.1,A.1.1\n".encode())
    response = admin_client.post("/admin/filing/keyword/import/", {"file": bad, "mode": "merge"})
    assert response.status_code == 200
    assert response.context["report"].errors[0].row == 2
    assert Keyword.objects.count() == 1

    wrong_type = SimpleUploadedFile("k.pdf", b"%PDF")
    response = admin_client.post("/admin/filing/keyword/import/", {"file": wrong_type, "mode": "merge"})
    assert response.status_code == 200 and response.context["file_error"]

    good = SimpleUploadedFile("k.csv", "关键词,一级分类,二级分类\n词二,A.1,A.1.2\n".encode())
    response = admin_client.post("/admin/filing/keyword/import/", {"file": good, "mode": "merge"})
    assert response.status_code == 302
    assert Keyword.objects.count() == 2

    export = admin_client.get("/admin/filing/keyword/export/?format=xlsx")
    assert export.status_code == 200 and "attachment" in export["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(export.content)).worksheets[0]
    assert [c.value for c in sheet[1]] == ["关键词", "一级分类", "二级分类"]
    assert admin_client.get("/admin/filing/keyword/export/?format=csv").status_code == 200
    assert admin_client.get("/admin/filing/keyword/export/?format=pdf").status_code == 400

    before = keyword_library_version_current()
    response = admin_client.post(
        "/admin/filing/keyword/",
        {"action": "disable_selected", "_selected_action": list(Keyword.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 302
    assert keyword_library_version_current() == before + 1
    assert not Keyword.objects.filter(enabled=True).exists()

    response = admin_client.post(
        "/admin/filing/keyword/add/", {"keyword": "词三", "risk": "A.2.1", "action": "flag", "enabled": "on"}
    )
    assert response.status_code == 302
    assert keyword_library_version_current() == before + 2


def test_operator_reaches_the_library_and_end_user_does_not(user_with_role, client):
    from genai_platform.roles import Role

    operator = user_with_role(Role.OPERATOR)
    operator.is_staff = True
    operator.save()
    client.force_login(operator)
    assert client.get("/admin/filing/keyword/coverage/").status_code == 200
    assert client.get("/admin/filing/keyword/import/").status_code == 200
    end_user = user_with_role(Role.END_USER)
    end_user.is_staff = True  # even with admin access, no keyword permissions
    end_user.save()
    client.force_login(end_user)
    assert client.get("/admin/filing/keyword/coverage/").status_code == 403


def test_pages_speak_chinese_by_default(admin_client):
    page = admin_client.get("/admin/filing/keyword/coverage/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = page.content.decode()
    assert "关键词库覆盖情况" in body and "关键词总数" in body
    page = admin_client.get("/admin/filing/keyword/coverage/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Keyword library coverage" in page.content.decode()


def test_concurrent_changes_get_consecutive_versions(transactional_db):
    import threading

    from django.db import connection

    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def add(n: int) -> None:
        try:
            start.wait()
            for i in range(3):
                keyword_create(keyword=f"并发词{n}-{i}", risk_code="A.1.1", actor=f"t{n}")
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(KeywordLibraryVersion.objects.values_list("number", flat=True)) == list(range(1, 13))
    assert KeywordLibraryVersion.objects.get(number=12).keyword_count == 12
