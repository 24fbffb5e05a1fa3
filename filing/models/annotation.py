"""Annotation records of the training data (TC260-003 §5.3): the rules annotators follow, the annotators with their
training and exam, the annotation tasks (one batch of a dataset, annotated by one person and reviewed by another)
and the spot checks of each batch. ``filing.models`` re-exports them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from filing.history import HistoryModel


class AnnotationRule(HistoryModel):
    """One version of the rules of functional or of safety annotation (TC260-003 §5.3 b)): its goal, data format,
    method and quality indicators. It applies to a service, to datasets, or to both; the safety rules of a service
    together cover all 31 risks of Appendix A (``filing.selectors.annotation_risks_uncovered``)."""

    class Kind(models.TextChoices):
        FUNCTIONAL = "functional", _("functional annotation")
        SAFETY = "safety", _("safety annotation")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    version = models.CharField(_("version"), max_length=50, default="1")
    service = models.ForeignKey(
        "filing.Service",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="annotation_rules",
        verbose_name=_("service"),
        help_text=_("The service whose data it governs; leave empty when it is named for datasets only."),
    )
    datasets = models.ManyToManyField(
        "filing.Dataset",
        blank=True,
        related_name="annotation_rules",
        verbose_name=_("datasets"),
        help_text=_("The datasets annotated by these rules, if not all of the service's."),
    )
    goal = models.TextField(_("goal"), help_text=_("What the annotation is for."))
    data_format = models.TextField(_("data format"), help_text=_("The format of the items and of the labels."))
    method = models.TextField(_("method"), help_text=_("How items are annotated and reviewed, with examples."))
    quality_indicators = models.TextField(
        _("quality indicators"), help_text=_("The accuracy and consistency a batch must reach, and how it is measured.")
    )
    risks = models.ManyToManyField(
        "filing.Risk",
        blank=True,
        related_name="annotation_rules",
        verbose_name=_("risks covered"),
        help_text=_("Safety rules: the risks of TC260-003 Appendix A they tell annotators to recognise."),
    )
    in_force = models.BooleanField(
        _("in force"), default=True, help_text=_("Untick when a newer version replaces this one.")
    )
    effective_on = models.DateField(_("effective on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("annotation rule")
        verbose_name_plural = _("annotation rules")
        ordering = ("kind", "name", "version")

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.get_kind_display()})"


class Annotator(HistoryModel):
    """A person who annotates or reviews training data, with the training and the exam that qualify them
    (TC260-003 §5.3 a): trained in-house, examined before starting, annotation and review kept apart)."""

    class Role(models.TextChoices):
        ANNOTATION = "annotation", _("annotation")
        REVIEW = "review", _("review")

    provider = models.ForeignKey(
        "filing.Provider", on_delete=models.CASCADE, related_name="annotators", verbose_name=_("provider")
    )
    name = models.CharField(_("full name"), max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="annotator_records",
        verbose_name=_("account"),
        help_text=_("The platform account of the person, if they have one."),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    training_on = models.DateField(_("trained on"), null=True, blank=True)
    training_content = models.TextField(
        _("training content"),
        blank=True,
        help_text=_("What the training covered: the rules, the tools, quality checking, data security."),
    )
    exam_on = models.DateField(_("exam taken on"), null=True, blank=True)
    exam_score = models.DecimalField(_("exam score"), max_digits=5, decimal_places=1, null=True, blank=True)
    exam_passed = models.BooleanField(_("exam passed"), default=False)
    active = models.BooleanField(
        _("qualified"), default=True, help_text=_("Untick when the person's qualification is withdrawn.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("annotator")
        verbose_name_plural = _("annotators")
        ordering = ("provider", "name", "role")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"

    @property
    def qualified(self) -> bool:
        """Trained, examined and passed, and not withdrawn."""
        return self.active and self.exam_passed

    def same_person(self, other: Annotator) -> bool:
        """Whether ``other`` is the same person: the same record, the same account, or the same name (a person may
        hold one record per role)."""
        if self.pk is not None and self.pk == other.pk:
            return True
        if self.user_id is not None and self.user_id == other.user_id:
            return True
        return _person_key(self.name) == _person_key(other.name)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.exam_passed:
            if self.exam_on is None:
                errors["exam_on"] = _("A passed exam has a date.")
            if self.exam_score is None:
                errors["exam_score"] = _("A passed exam has a score.")
            if self.training_on is None or not self.training_content.strip():
                errors["training_on"] = _("Record the training (date and content) the exam followed.")
        if self.training_on and self.exam_on and self.exam_on < self.training_on:
            errors["exam_on"] = _("The exam comes after the training.")
        if errors:
            raise ValidationError(errors)


def _person_key(name: str) -> str:
    return "".join(name.split()).casefold()


class AnnotationTask(HistoryModel):
    """One batch of a dataset annotated under a rule: the annotator, and the reviewer who checks their work; never
    the same person (TC260-003 §5.3 a))."""

    dataset = models.ForeignKey(
        "filing.Dataset", on_delete=models.CASCADE, related_name="annotation_tasks", verbose_name=_("dataset")
    )
    rule = models.ForeignKey(
        AnnotationRule, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("annotation rule")
    )
    batch = models.CharField(_("batch"), max_length=100, help_text=_("The batch identifier, as the team names it."))
    items = models.PositiveIntegerField(_("items in the batch"), null=True, blank=True)
    annotator = models.ForeignKey(
        Annotator, on_delete=models.PROTECT, related_name="tasks_annotated", verbose_name=_("annotator")
    )
    reviewer = models.ForeignKey(
        Annotator, on_delete=models.PROTECT, related_name="tasks_reviewed", verbose_name=_("reviewer")
    )
    started_on = models.DateField(_("started on"))
    finished_on = models.DateField(_("finished on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("annotation task")
        verbose_name_plural = _("annotation tasks")
        ordering = ("dataset", "-started_on", "batch")
        constraints = [
            models.UniqueConstraint(fields=("dataset", "batch"), name="%(app_label)s_%(class)s_unique_batch"),
            models.CheckConstraint(
                condition=~Q(annotator=F("reviewer")),
                name="%(app_label)s_%(class)s_reviewer_not_annotator",
                violation_error_message=_("The annotator of a task may not also review it."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch} ({self.dataset.name})"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        annotator = self.annotator if self.annotator_id else None
        reviewer = self.reviewer if self.reviewer_id else None
        if annotator is not None and annotator.role != Annotator.Role.ANNOTATION:
            errors["annotator"] = _("“%(p)s” is recorded for review, not for annotation.") % {"p": annotator}
        if reviewer is not None and reviewer.role != Annotator.Role.REVIEW:
            errors["reviewer"] = _("“%(p)s” is recorded for annotation, not for review.") % {"p": reviewer}
        if annotator is not None and reviewer is not None and annotator.same_person(reviewer):
            errors["reviewer"] = _(
                "%(name)s annotates this batch and may not also review it: annotation and review of one task are "
                "done by two different people."
            ) % {"name": reviewer.name}
        for name, person in (("annotator", annotator), ("reviewer", reviewer)):
            if person is None or name in errors:
                continue
            if not person.qualified:
                errors[name] = _("%(name)s has not passed the annotator exam, or is no longer qualified.") % {
                    "name": person.name
                }
            elif self.started_on and person.exam_on and person.exam_on > self.started_on:
                errors[name] = _("%(name)s passed the exam on %(exam)s, after the task started.") % {
                    "name": person.name,
                    "exam": person.exam_on.isoformat(),
                }
        if self.started_on and self.finished_on and self.finished_on < self.started_on:
            errors["finished_on"] = _("The task finishes before it starts.")
        if errors:
            raise ValidationError(errors)


class SpotCheck(HistoryModel):
    """The spot check of one batch (TC260-003 §5.3 c)): how many sampled items were checked and how many were
    annotated correctly; the pass rate is computed from them. Inaccurate items are re-annotated; a batch with illegal
    content is voided."""

    class Conclusion(models.TextChoices):
        ACCEPTED = "accepted", _("accepted")
        REWORK = "rework", _("inaccurate items sent back for re-annotation")
        VOIDED = "voided", _("voided: illegal content found, the batch is not used")

    task = models.ForeignKey(
        AnnotationTask, on_delete=models.CASCADE, related_name="spot_checks", verbose_name=_("annotation task")
    )
    checked_on = models.DateField(_("checked on"))
    checker = models.CharField(_("checked by"), max_length=100)
    sample_size = models.PositiveIntegerField(_("items checked"))
    passed_items = models.PositiveIntegerField(_("items annotated correctly"))
    conclusion = models.CharField(_("conclusion"), max_length=16, choices=Conclusion.choices)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("spot check")
        verbose_name_plural = _("spot checks")
        ordering = ("task", "-checked_on", "-pk")
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_size__gte=1),
                name="%(app_label)s_%(class)s_sample_not_empty",
                violation_error_message=_("A spot check checks at least one item."),
            ),
            models.CheckConstraint(
                condition=Q(passed_items__lte=F("sample_size")),
                name="%(app_label)s_%(class)s_passed_within_sample",
                violation_error_message=_("More items passed than were checked."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task}: {self.checked_on.isoformat() if self.checked_on else ''}"

    @property
    def pass_rate(self) -> Decimal | None:
        """Items annotated correctly over items checked (a share, 0 to 1); ``None`` before anything was checked."""
        if not self.sample_size or self.passed_items is None:
            return None
        return (Decimal(self.passed_items) / Decimal(self.sample_size)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.sample_size is not None and self.passed_items is not None and self.passed_items > self.sample_size:
            errors["passed_items"] = _("More items passed than were checked.")
        task = self.task if self.task_id else None
        if task is not None:
            if task.items is not None and self.sample_size is not None and self.sample_size > task.items:
                errors["sample_size"] = _("The batch has only %(n)d items.") % {"n": task.items}
            if self.checker and _person_key(self.checker) == _person_key(task.annotator.name):
                errors["checker"] = _("%(name)s annotated this batch and may not spot-check it.") % {
                    "name": self.checker
                }
            if self.checked_on and task.started_on and self.checked_on < task.started_on:
                errors["checked_on"] = _("The check comes before the task started.")
        if errors:
            raise ValidationError(errors)
