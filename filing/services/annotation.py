"""Annotation records (TC260-003 §5.3): rules, annotators, annotation tasks and the spot checks of their batches.

Each write validates the record as the admin form does (``full_clean``) and refuses with the model's message, so a
task annotated and reviewed by one person is refused the same way from the admin, a service call or the API."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from filing.history import acting_as, history_write
from filing.models import (
    AnnotationRule,
    AnnotationTask,
    Annotator,
    Dataset,
    Provider,
    Risk,
    Service,
    SpotCheck,
)
from filing.services.common import FilingError

Record = TypeVar("Record", bound=models.Model)


def _saved(record: models.Model) -> None:
    """Validate ``record`` and save it, or refuse with what is wrong."""
    try:
        record.full_clean()
    except ValidationError as exc:
        raise FilingError(" ".join(exc.messages)) from exc
    record.save()


def _created(record: Record, actor: Any) -> Record:
    """``record`` validated and saved by ``actor``, with its history record, in one transaction."""
    with acting_as(actor), transaction.atomic():
        _saved(record)
    return record


def annotation_rule_create(
    *,
    kind: str,
    name: str,
    goal: str,
    data_format: str,
    method: str,
    quality_indicators: str,
    actor: Any,
    service: Service | None = None,
    datasets: Iterable[Dataset] = (),
    risks: Iterable[Risk] = (),
    version: str = "1",
    effective_on: datetime.date | None = None,
) -> AnnotationRule:
    """A rule of functional or safety annotation for ``service`` and/or ``datasets``; a safety rule names the risks
    it covers, a functional rule none."""
    datasets = list(datasets)
    risks = list(risks)
    annotation_rule_links_check(kind=kind, has_target=service is not None or bool(datasets), risks=risks)
    rule = AnnotationRule(
        kind=kind,
        name=name,
        version=version,
        service=service,
        goal=goal,
        data_format=data_format,
        method=method,
        quality_indicators=quality_indicators,
        effective_on=effective_on,
    )
    with acting_as(actor), transaction.atomic():
        _saved(rule)
        rule.datasets.set(datasets)
        rule.risks.set(risks)
        annotation_rule_links_record(rule=rule, before={"datasets": [], "risks": []}, actor=actor)
    return rule


def annotation_rule_links_check(*, kind: str, has_target: bool, risks: list[Risk]) -> None:
    """Refuse a rule that governs nothing, a safety rule without risks, or a functional rule with risks."""
    if not has_target:
        raise FilingError(_("Name the service or the datasets the annotation rule applies to."))
    if kind == AnnotationRule.Kind.SAFETY and not risks:
        raise FilingError(_("A safety annotation rule names the risks it covers."))
    if kind == AnnotationRule.Kind.FUNCTIONAL and risks:
        raise FilingError(_("Risks are covered by safety annotation rules; a functional rule names none."))


def annotation_rule_links(rule: AnnotationRule) -> dict[str, list[str]]:
    """The datasets and risks ``rule`` names, as its history records them."""
    return {
        "datasets": sorted(str(pk) for pk in rule.datasets.values_list("pk", flat=True)),
        "risks": sorted(rule.risks.values_list("code", flat=True)),
    }


def annotation_rule_links_record(*, rule: AnnotationRule, before: dict[str, list[str]], actor: Any) -> None:
    """Write the change of the rule's datasets and risks (many-to-many links, which the change history of its fields
    does not see) as one ``filing.changed`` record."""
    after = annotation_rule_links(rule)
    changes = {key: [before.get(key, []), value] for key, value in after.items() if before.get(key, []) != value}
    if changes:
        with acting_as(actor):
            history_write(instance=rule, action="changed", changes=changes)


def annotator_create(
    *,
    provider: Provider,
    name: str,
    role: str,
    actor: Any,
    user: Any = None,
    training_on: datetime.date | None = None,
    training_content: str = "",
    exam_on: datetime.date | None = None,
    exam_score: Decimal | int | None = None,
    exam_passed: bool = False,
) -> Annotator:
    """An annotator or reviewer of ``provider``, with the training and the exam that qualify them."""
    return _created(
        Annotator(
            provider=provider,
            name=name.strip(),
            role=role,
            user=user,
            training_on=training_on,
            training_content=training_content,
            exam_on=exam_on,
            exam_score=None if exam_score is None else Decimal(exam_score),
            exam_passed=exam_passed,
        ),
        actor,
    )


def annotation_task_create(
    *,
    dataset: Dataset,
    rule: AnnotationRule,
    batch: str,
    annotator: Annotator,
    reviewer: Annotator,
    started_on: datetime.date,
    actor: Any,
    items: int | None = None,
    finished_on: datetime.date | None = None,
) -> AnnotationTask:
    """One batch of ``dataset`` annotated under ``rule``. Refused when the annotator and the reviewer are the same
    person, when either is not qualified, or when either holds the other role."""
    return _created(
        AnnotationTask(
            dataset=dataset,
            rule=rule,
            batch=batch.strip(),
            items=items,
            annotator=annotator,
            reviewer=reviewer,
            started_on=started_on,
            finished_on=finished_on,
        ),
        actor,
    )


def spot_check_record(
    *,
    task: AnnotationTask,
    checked_on: datetime.date,
    checker: str,
    sample_size: int,
    passed_items: int,
    conclusion: str,
    actor: Any,
    note: str = "",
) -> SpotCheck:
    """The spot check of the batch of ``task``: items checked and items annotated correctly (the pass rate is
    computed from them), and its conclusion."""
    return _created(
        SpotCheck(
            task=task,
            checked_on=checked_on,
            checker=checker.strip(),
            sample_size=sample_size,
            passed_items=passed_items,
            conclusion=conclusion,
            note=note,
        ),
        actor,
    )
