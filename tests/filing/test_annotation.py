"""Annotation records (TC260-003 §5.3): rules covering the risks, annotators and reviewers kept apart, spot checks
of each batch, and the readiness item that counts them where the service's datasets are annotated."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.models import LogEntry
from filing.models import AnnotationRule, AnnotationTask, Annotator, Risk, SpotCheck
from filing.readiness import readiness_checklist
from filing.selectors import annotation_risks_uncovered
from filing.services import (
    FilingError,
    annotation_rule_create,
    annotation_task_create,
    annotator_create,
    spot_check_record,
)
from genai_platform.roles import Role

from .conftest import _train_on, filing_changes

pytestmark = pytest.mark.django_db

RULE_TEXT = {
    "goal": "识别手写数字",
    "data_format": "PNG 28×28，标签 0–9",
    "method": "双人标注",
    "quality_indicators": "准确率≥95%",
}


def _rule(service, kind, risks=(), name=None):
    return annotation_rule_create(
        service=service, kind=kind, name=name or f"{kind} 规则", risks=risks, actor=None, **RULE_TEXT
    )


def _person(provider, name, role, *, passed=True, user=None):
    return annotator_create(
        provider=provider,
        name=name,
        role=role,
        user=user,
        training_on=date(2026, 10, 1),
        training_content="标注规则、工具、质检方法、数据安全",
        exam_on=date(2026, 10, 8) if passed else None,
        exam_score=92 if passed else None,
        exam_passed=passed,
        actor=None,
    )


@pytest.fixture
def team(service):
    """An annotator and a reviewer of the service's provider, both trained and examined."""
    return (
        _person(service.provider, "王标注", Annotator.Role.ANNOTATION),
        _person(service.provider, "赵审核", Annotator.Role.REVIEW),
    )


@pytest.fixture
def annotated(service, model_record, dataset):
    """The dataset, marked annotated and trained on by the service's model record."""
    dataset.annotated = True
    dataset.save()
    _train_on(model_record, dataset)
    return dataset


def _annotation_item(service):
    found = [item for item in readiness_checklist(service) if item.key == "annotation"]
    return found[0] if found else None


# --- one person never annotates and reviews the same task -------------------------------------------------------


def test_a_task_annotated_and_reviewed_by_the_same_person_is_refused(service, dataset, team, english):
    annotator, _reviewer = team
    rule = _rule(service, AnnotationRule.Kind.FUNCTIONAL)
    # The same person, recorded a second time for review (same name, spaces aside).
    same = _person(service.provider, "王 标注", Annotator.Role.REVIEW)

    with pytest.raises(FilingError, match="may not also review it"):
        annotation_task_create(
            dataset=dataset,
            rule=rule,
            batch="b-1",
            annotator=annotator,
            reviewer=same,
            started_on=date(2026, 11, 1),
            actor=None,
        )

    assert not AnnotationTask.objects.exists()


def test_the_same_account_under_another_name_is_the_same_person(service, dataset, operator, english):
    rule = _rule(service, AnnotationRule.Kind.FUNCTIONAL)
    annotator = _person(service.provider, "王标注", Annotator.Role.ANNOTATION, user=operator)
    reviewer = _person(service.provider, "小王", Annotator.Role.REVIEW, user=operator)

    with pytest.raises(FilingError, match="may not also review it"):
        annotation_task_create(
            dataset=dataset,
            rule=rule,
            batch="b-1",
            annotator=annotator,
            reviewer=reviewer,
            started_on=date(2026, 11, 1),
            actor=None,
        )


def test_the_database_refuses_one_record_as_annotator_and_reviewer(service, dataset, team):
    annotator, _reviewer = team
    rule = _rule(service, AnnotationRule.Kind.FUNCTIONAL)

    with pytest.raises(IntegrityError), transaction.atomic():
        AnnotationTask.objects.create(
            dataset=dataset,
            rule=rule,
            batch="b-1",
            annotator=annotator,
            reviewer=annotator,
            started_on=date(2026, 11, 1),
        )


def test_an_unqualified_person_or_one_in_the_wrong_role_is_refused(service, dataset, team, english):
    annotator, reviewer = team
    rule = _rule(service, AnnotationRule.Kind.FUNCTIONAL)
    unexamined = _person(service.provider, "钱新人", Annotator.Role.REVIEW, passed=False)

    with pytest.raises(FilingError, match="has not passed the annotator exam"):
        annotation_task_create(
            dataset=dataset,
            rule=rule,
            batch="b-1",
            annotator=annotator,
            reviewer=unexamined,
            started_on=date(2026, 11, 1),
            actor=None,
        )
    second_annotator = _person(service.provider, "李标注", Annotator.Role.ANNOTATION)
    with pytest.raises(FilingError, match="recorded for annotation, not for review"):
        annotation_task_create(
            dataset=dataset,
            rule=rule,
            batch="b-1",
            annotator=annotator,
            reviewer=second_annotator,
            started_on=date(2026, 11, 1),
            actor=None,
        )
    with pytest.raises(FilingError, match="after the task started"):
        annotation_task_create(
            dataset=dataset,
            rule=rule,
            batch="b-1",
            annotator=annotator,
            reviewer=reviewer,
            started_on=date(2026, 10, 5),
            actor=None,
        )


def test_a_passed_exam_needs_its_date_score_and_training(service, english):
    with pytest.raises(FilingError, match="A passed exam has a score"):
        annotator_create(
            provider=service.provider,
            name="孙",
            role=Annotator.Role.ANNOTATION,
            exam_passed=True,
            exam_on=date(2026, 10, 8),
            training_on=date(2026, 10, 1),
            training_content="规则",
            actor=None,
        )
    with pytest.raises(FilingError, match="training"):
        annotator_create(
            provider=service.provider,
            name="孙",
            role=Annotator.Role.ANNOTATION,
            exam_passed=True,
            exam_on=date(2026, 10, 8),
            exam_score=90,
            actor=None,
        )


def test_the_admin_form_refuses_the_same_person_with_the_reason(client_for, service, dataset, team):
    annotator, _reviewer = team
    rule = _rule(service, AnnotationRule.Kind.FUNCTIONAL)
    same = _person(service.provider, "王标注", Annotator.Role.REVIEW)
    client = client_for(Role.OPERATOR, "op")

    response = client.post(
        "/admin/filing/annotationtask/add/",
        {
            "dataset": dataset.pk,
            "rule": rule.pk,
            "batch": "b-1",
            "annotator": annotator.pk,
            "reviewer": same.pk,
            "started_on": "2026-11-01",
            "spot_checks-TOTAL_FORMS": "0",
            "spot_checks-INITIAL_FORMS": "0",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert "may not also review it" in response.content.decode()
    assert not AnnotationTask.objects.exists()


# --- rules and the coverage of the 31 risks ---------------------------------------------------------------------


def test_uncovered_risks_are_reported_until_the_safety_rules_cover_all_31(service):
    risks = list(Risk.objects.order_by("position"))
    assert len(risks) == 31
    assert [r.code for r in annotation_risks_uncovered(service)] == [r.code for r in risks]

    _rule(service, AnnotationRule.Kind.SAFETY, risks=risks[:17], name="A.1–A.2 安全标注规则")
    # A functional rule covers no risk, and a rule out of force no longer counts.
    _rule(service, AnnotationRule.Kind.FUNCTIONAL)
    old = _rule(service, AnnotationRule.Kind.SAFETY, risks=risks[17:], name="旧版规则")
    old.in_force = False
    old.save()

    assert [r.code for r in annotation_risks_uncovered(service)] == [r.code for r in risks[17:]]

    _rule(service, AnnotationRule.Kind.SAFETY, risks=risks[17:], name="A.3–A.5 安全标注规则")
    assert annotation_risks_uncovered(service) == []


def test_a_rule_for_one_of_the_services_datasets_counts_for_the_service(service, annotated):
    rule = annotation_rule_create(
        datasets=[annotated],
        kind=AnnotationRule.Kind.SAFETY,
        name="数据集规则",
        risks=Risk.objects.all(),
        actor=None,
        **RULE_TEXT,
    )

    assert rule.service is None
    assert annotation_risks_uncovered(service) == []


def test_rules_that_govern_nothing_or_mix_up_risks_are_refused(service, english):
    with pytest.raises(FilingError, match="Name the service or the datasets"):
        annotation_rule_create(kind="functional", name="x", actor=None, **RULE_TEXT)
    with pytest.raises(FilingError, match="names the risks it covers"):
        _rule(service, AnnotationRule.Kind.SAFETY)
    with pytest.raises(FilingError, match="a functional rule names none"):
        _rule(service, AnnotationRule.Kind.FUNCTIONAL, risks=Risk.objects.all()[:1])


def test_the_risks_a_rule_covers_are_in_its_history(service):
    rule = _rule(service, AnnotationRule.Kind.SAFETY, risks=Risk.objects.filter(code__in=["A.1.1", "A.2.1"]))

    payloads = [payload for _row, payload in filing_changes(rule)]
    assert any(p["changes"].get("risks") == [[], ["A.1.1", "A.2.1"]] for p in payloads)


# --- spot checks --------------------------------------------------------------------------------------------------


def _task(service, dataset, team, batch="b-1", items=1000):
    annotator, reviewer = team
    rule = AnnotationRule.objects.filter(kind="functional").first() or _rule(service, AnnotationRule.Kind.FUNCTIONAL)
    return annotation_task_create(
        dataset=dataset,
        rule=rule,
        batch=batch,
        items=items,
        annotator=annotator,
        reviewer=reviewer,
        started_on=date(2026, 11, 1),
        actor=None,
    )


def test_the_pass_rate_is_computed_from_the_items_checked_and_passed(service, dataset, team):
    task = _task(service, dataset, team)

    check = spot_check_record(
        task=task,
        checked_on=date(2026, 11, 5),
        checker="赵审核",
        sample_size=200,
        passed_items=193,
        conclusion=SpotCheck.Conclusion.ACCEPTED,
        actor=None,
    )

    assert check.pass_rate == Decimal("0.9650")
    check.passed_items = 200
    check.save()
    assert SpotCheck.objects.get(pk=check.pk).pass_rate == Decimal("1.0000")
    # No field of the model takes a typed rate.
    assert "pass_rate" not in {f.name for f in SpotCheck._meta.get_fields()}


def test_a_spot_check_beyond_the_batch_or_by_its_annotator_is_refused(service, dataset, team, english):
    task = _task(service, dataset, team, items=100)

    with pytest.raises(FilingError, match="only 100 items"):
        spot_check_record(
            task=task,
            checked_on=date(2026, 11, 5),
            checker="赵审核",
            sample_size=150,
            passed_items=150,
            conclusion="accepted",
            actor=None,
        )
    with pytest.raises(FilingError, match="More items passed than were checked"):
        spot_check_record(
            task=task,
            checked_on=date(2026, 11, 5),
            checker="赵审核",
            sample_size=50,
            passed_items=51,
            conclusion="accepted",
            actor=None,
        )
    with pytest.raises(FilingError, match="may not spot-check it"):
        spot_check_record(
            task=task,
            checked_on=date(2026, 11, 5),
            checker="王标注",
            sample_size=50,
            passed_items=50,
            conclusion="accepted",
            actor=None,
        )
    with pytest.raises(ValidationError, match="A spot check checks at least one item"):
        SpotCheck(
            task=task, checked_on=date(2026, 11, 5), checker="x", sample_size=0, passed_items=0, conclusion="accepted"
        ).full_clean()


# --- readiness ----------------------------------------------------------------------------------------------------


def test_no_annotation_item_while_no_dataset_of_the_service_is_annotated(service, model_record, dataset):
    _train_on(model_record, dataset)

    assert _annotation_item(service) is None


def test_the_annotation_item_lists_what_is_missing_and_links_to_the_fix(service, annotated, english):
    item = _annotation_item(service)

    assert item is not None and not item.ok and item.status == "blocker"
    assert "no rules of functional annotation" in item.detail
    assert "no rules of safety annotation" in item.detail
    assert "no one qualified for annotation" in item.detail and "no one qualified for review" in item.detail
    assert "no annotation batch recorded: MNIST 5k" in item.detail
    assert item.fix_url == f"/admin/filing/annotationrule/?service__id__exact={service.pk}"


def test_the_annotation_item_is_ready_once_rules_people_and_spot_checks_are_complete(service, annotated, team, english):
    risks = list(Risk.objects.order_by("position"))
    _rule(service, AnnotationRule.Kind.FUNCTIONAL)
    _rule(service, AnnotationRule.Kind.SAFETY, risks=risks[:30])
    task = _task(service, annotated, team)

    item = _annotation_item(service)
    assert not item.ok
    assert "1 risk not covered by the safety rules (A.5.2)" in item.detail
    assert f"batches without a concluding spot check: {task}" in item.detail

    _rule(service, AnnotationRule.Kind.SAFETY, risks=risks[30:], name="A.5 规则")
    spot_check_record(
        task=task,
        checked_on=date(2026, 11, 5),
        checker="赵审核",
        sample_size=100,
        passed_items=90,
        conclusion=SpotCheck.Conclusion.REWORK,
        actor=None,
    )
    item = _annotation_item(service)
    assert not item.ok and "risk" not in item.detail
    assert "batches without a concluding spot check" in item.detail  # sent back for re-annotation: not concluded
    assert item.fix_url == "/admin/filing/annotationtask/"

    spot_check_record(
        task=task,
        checked_on=date(2026, 11, 9),
        checker="赵审核",
        sample_size=100,
        passed_items=99,
        conclusion=SpotCheck.Conclusion.ACCEPTED,
        actor=None,
    )
    item = _annotation_item(service)
    assert item.ok, item.detail
    assert item.detail == "1 annotated dataset, rules and spot checks complete."


def test_a_withdrawn_qualification_reopens_the_item(service, annotated, team, english):
    _rule(service, AnnotationRule.Kind.FUNCTIONAL)
    _rule(service, AnnotationRule.Kind.SAFETY, risks=Risk.objects.all())
    task = _task(service, annotated, team)
    spot_check_record(
        task=task,
        checked_on=date(2026, 11, 5),
        checker="赵审核",
        sample_size=100,
        passed_items=100,
        conclusion="accepted",
        actor=None,
    )
    assert _annotation_item(service).ok

    _annotator, reviewer = team
    reviewer.active = False
    reviewer.save()

    item = _annotation_item(service)
    assert not item.ok and item.detail == "no one qualified for review (exam passed)"
    assert item.fix_url == f"/admin/filing/annotator/?provider__id__exact={service.provider_id}"


def test_the_service_page_shows_the_annotation_item_for_an_annotated_dataset(client_for, service, annotated):
    client = client_for(Role.OPERATOR, "op")

    page = client.get(f"/admin/filing/service/{service.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")

    keys = [item.key for item in page.context["readiness"]]
    assert keys.index("annotation") == keys.index("datasets") + 1
    assert f"/admin/filing/annotationrule/?service__id__exact={service.pk}" in page.content.decode()


# --- admin pages ----------------------------------------------------------------------------------------------------


@pytest.fixture
def records(service, annotated, team):
    rule = _rule(service, AnnotationRule.Kind.SAFETY, risks=Risk.objects.all()[:3])
    annotator, reviewer = team
    task = annotation_task_create(
        dataset=annotated,
        rule=rule,
        batch="b-7",
        items=500,
        annotator=annotator,
        reviewer=reviewer,
        started_on=date(2026, 11, 1),
        actor=None,
    )
    check = spot_check_record(
        task=task,
        checked_on=date(2026, 11, 5),
        checker="赵审核",
        sample_size=50,
        passed_items=48,
        conclusion="accepted",
        actor=None,
    )
    return {"annotationrule": rule, "annotator": annotator, "annotationtask": task, "spotcheck": check}


def test_operator_sees_the_list_add_and_change_page_of_each_annotation_record(client_for, records):
    client = client_for(Role.OPERATOR, "op")
    for name, record in records.items():
        assert client.get(f"/admin/filing/{name}/").status_code == 200, name
        assert client.get(f"/admin/filing/{name}/add/").status_code == 200, name
        assert client.get(f"/admin/filing/{name}/{record.pk}/change/").status_code == 200, name
    listing = client.get("/admin/filing/spotcheck/").content.decode()
    assert "96%" in listing
    rule_page = client.get(
        f"/admin/filing/annotationrule/{records['annotationrule'].pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Not covered: 28 risks" in rule_page.content.decode()


def test_the_annotation_records_are_in_the_corpus_and_annotation_box(client, operator, english):
    client.force_login(operator)

    boxes = [
        app
        for app in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").context["app_list"]
        if app["app_label"] == "filing"
    ]

    corpus = next(box for box in boxes if box["name"] == "Filing · 3. Corpus and annotation")
    assert [m["object_name"] for m in corpus["models"]][-4:] == [
        "AnnotationRule",
        "Annotator",
        "AnnotationTask",
        "SpotCheck",
    ]


def test_an_annotation_rule_added_in_the_admin_keeps_its_risks_with_who_added_them(client_for, service):
    client = client_for(Role.OPERATOR, "op")
    codes = ["A.1.1", "A.1.2"]

    response = client.post(
        "/admin/filing/annotationrule/add/",
        {
            "kind": "safety",
            "name": "安全标注规则",
            "version": "2",
            "in_force": "on",
            "service": service.pk,
            "risks": codes,
            **RULE_TEXT,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AnnotationRule.objects.get()
    assert sorted(rule.risks.values_list("code", flat=True)) == codes
    rows = LogEntry.objects.filter(subject_kind="filing.annotationrule", subject_id=str(rule.pk))
    linked = [row for row in rows if json.loads(row.payload)["changes"].get("risks")]
    assert linked and linked[0].actor_username == "op"


def test_the_admin_refuses_a_safety_rule_without_risks(client_for, service, english):
    client = client_for(Role.OPERATOR, "op")

    response = client.post(
        "/admin/filing/annotationrule/add/",
        {"kind": "safety", "name": "x", "version": "1", "service": service.pk, **RULE_TEXT},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert "names the risks it covers" in response.content.decode()
    assert not AnnotationRule.objects.exists()
