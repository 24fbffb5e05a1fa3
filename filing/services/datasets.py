"""Datasets: their records, keyed by the SHA-256 of their bytes, and the source safety check of a dataset
(TC260-003 §5.1 a))."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.history import acting_as, history_write
from filing.models import (
    CorpusReview,
    Dataset,
    ModelRecord,
    Risk,
    SafetyCheck,
    SampleItem,
    Service,
)
from filing.safety.selectors import SafetyConfig, safety_config
from filing.services.common import FilingError, actor_name, ratio


def dataset_register(
    *,
    name: str,
    sha256: str,
    source: str,
    licence: str = "",
    licence_text: str = "",
    source_type: str = Dataset.SourceType.OPEN_SOURCE,
    origin: str = Dataset.Origin.OVERSEAS,
    items: int | None = None,
    size_bytes: int | None = None,
) -> Dataset:
    """The dataset record for these exact bytes, created on first use (keyed by SHA-256).

    An existing record is returned unchanged: operators may have completed its provenance in the
    admin, and training must not overwrite that.
    """
    with transaction.atomic():
        dataset, _created = Dataset.objects.get_or_create(
            sha256=sha256,
            defaults={
                "name": name[:200],
                "source": source[:500],
                "licence": licence[:200],
                "licence_text": licence_text,
                "source_type": source_type,
                "origin": origin,
                "items": items,
                "size_bytes": size_bytes,
            },
        )
    return dataset


# Callables that read sampled items of a dataset: reader(dataset, indices) -> {index: text} or None.
# Apps that hold the bytes (e.g. training) register one; without one reviewers see item numbers.
_ITEM_READERS: list[Any] = []


def dataset_item_reader_register(reader: Any) -> None:
    if reader not in _ITEM_READERS:
        _ITEM_READERS.append(reader)


def dataset_excerpts(dataset: Dataset, indices: list[int]) -> dict[int, str]:
    for reader in _ITEM_READERS:
        found = reader(dataset, indices)
        if found:
            return {int(k): str(v)[:2000] for k, v in found.items()}
    return {}


# Callables that pre-screen sampled items with the moderation layers: screener(dataset, {index: text}) ->
# {index: flags} or None. The app that holds the moderation registers one; the flags are advice to the
# reviewer, stored with each item, and the reviewer's verdict alone counts.
_ITEM_SCREENERS: list[Any] = []


def dataset_item_screener_register(screener: Any) -> None:
    if screener not in _ITEM_SCREENERS:
        _ITEM_SCREENERS.append(screener)


def dataset_items_screen(dataset: Dataset, excerpts: dict[int, str]) -> dict[int, dict[str, Any]]:
    """The first registered screener's flags for ``excerpts`` ({} when none can screen them)."""
    for screener in _ITEM_SCREENERS:
        found = screener(dataset, excerpts)
        if found is not None:
            return {int(k): dict(v) for k, v in found.items()}
    return {}


def sample_indices(*, seed: int, population: int, size: int) -> list[int]:
    """``size`` distinct item numbers out of ``population``, the same for the same seed."""
    return random.Random(seed).sample(range(population), size)  # noqa: S311 (sampling, not secrecy)


def source_sample_size_min(config: SafetyConfig | None = None) -> int:
    """The least sample of a source safety check: the configured size (``corpus_source_sample_min``), never below
    the platform's floor (``FILING_SOURCE_SAMPLE_FLOOR``), whatever the configuration says."""
    config = config or safety_config()
    return max(int(config.corpus_source_sample_min), int(settings.FILING_SOURCE_SAMPLE_FLOOR))


def safety_check_start(
    *, dataset: Dataset, actor: Any, seed: int | None = None, sample_size: int | None = None
) -> SafetyCheck:
    """Draw the sample a reviewer will judge, each item pre-screened by the keyword and classifier layers where
    its text is held here. The size is the source check's own (``source_sample_size_min``; a larger one may be
    asked for, a smaller one is refused), capped by the dataset's item count: a smaller dataset is checked whole."""
    if not dataset.items:
        raise FilingError(
            _("Enter the number of items of “%(dataset)s” before checking it.") % {"dataset": dataset.name}
        )
    if dataset.safety_checks.filter(status=SafetyCheck.Status.IN_REVIEW).exists():
        raise FilingError(_("A check of “%(dataset)s” is already in review.") % {"dataset": dataset.name})
    config = safety_config()
    least = source_sample_size_min(config)
    if sample_size is not None and sample_size < least:
        raise FilingError(
            _("A source safety check samples at least %(n)d items (or the whole dataset when it is smaller).")
            % {"n": least}
        )
    size = min(int(sample_size or least), int(dataset.items))
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    indices = sample_indices(seed=seed, population=int(dataset.items), size=size)
    excerpts = dataset_excerpts(dataset, indices)
    flags = dataset_items_screen(dataset, excerpts)
    with acting_as(actor), transaction.atomic():
        check = SafetyCheck.objects.create(
            dataset=dataset,
            seed=seed,
            population=dataset.items,
            sample_size=size,
            threshold=config.corpus_source_illegal_ratio_max,
            config_version=config.version,
            started_by=actor_name(actor),
        )
        SampleItem.objects.bulk_create(
            [
                SampleItem(
                    check_run=check,
                    position=position,
                    item_index=index,
                    excerpt=excerpts.get(index, ""),
                    prescreen=flags.get(index, {}),
                )
                for position, index in enumerate(indices, start=1)
            ],
            batch_size=1000,
        )
        # A failed dataset stays unusable while it is checked again; only a passed check clears it.
        Dataset.objects.filter(pk=dataset.pk).exclude(safety_status=Dataset.SafetyStatus.FAILED).update(
            safety_status=Dataset.SafetyStatus.IN_REVIEW
        )
    dataset.refresh_from_db()
    return check


@dataclass(frozen=True)
class VerdictInput:
    item_id: int
    verdict: str
    risk_code: str | None = None


def verdicts_record(*, subject: Any, items: QuerySet[Any], verdicts: Iterable[VerdictInput], actor: Any) -> int:
    """Store reviewers' verdicts on sampled ``items`` (a check's or an assessment's), with one history record of
    ``subject`` naming what changed; returns how many changed."""
    wanted = {v.item_id: v for v in verdicts}
    for given in wanted.values():
        if given.verdict not in SampleItem.Verdict.values:
            raise FilingError(_("Unknown verdict “%(v)s”.") % {"v": given.verdict})
    codes = {v.risk_code for v in wanted.values() if v.risk_code and v.verdict == SampleItem.Verdict.ILLEGAL}
    unknown = codes - set(Risk.objects.filter(code__in=codes).values_list("code", flat=True))
    if unknown:
        raise FilingError(_("Unknown risk code “%(c)s”.") % {"c": ", ".join(sorted(unknown))})
    changes: dict[str, list[Any]] = {}
    now = timezone.now()
    reviewer = actor_name(actor)
    with acting_as(actor), transaction.atomic():
        rows = list(items.select_for_update().filter(pk__in=list(wanted)))
        for item in rows:
            given = wanted[item.pk]
            risk = (given.risk_code or None) if given.verdict == SampleItem.Verdict.ILLEGAL else None
            if (item.verdict, item.risk_id) == (given.verdict, risk):
                continue
            changes[f"item {item.position}"] = [item.verdict, given.verdict]
            item.verdict, item.risk_id = given.verdict, risk
            judged = given.verdict != SampleItem.Verdict.PENDING
            item.reviewer = reviewer if judged else ""
            item.reviewed_at = now if judged else None
        items.model.objects.bulk_update(rows, ["verdict", "risk", "reviewer", "reviewed_at"])
        if changes:
            history_write(instance=subject, action="changed", changes=changes)
    return len(changes)


def _sample_in_review_check(*, sample: SafetyCheck | CorpusReview, finished: str) -> None:
    """Refuse, saying ``finished``, a change to a sample whose review is over."""
    if sample.status != sample.Status.IN_REVIEW:
        raise FilingError(finished)


def sample_verdicts_record(
    *, sample: SafetyCheck | CorpusReview, verdicts: Iterable[VerdictInput], actor: Any, finished: str
) -> int:
    """Store reviewers' verdicts on the items of ``sample`` (a check's or an assessment's); returns how many
    changed. Refused, saying ``finished``, once its review is over."""
    _sample_in_review_check(sample=sample, finished=finished)
    return verdicts_record(subject=sample, items=sample.items.all(), verdicts=verdicts, actor=actor)


def safety_check_verdicts_record(*, check: SafetyCheck, verdicts: Iterable[VerdictInput], actor: Any) -> int:
    """Store reviewers' verdicts on sampled items; returns how many changed."""
    return sample_verdicts_record(
        sample=check,
        verdicts=verdicts,
        actor=actor,
        finished=_("This check is finished; its verdicts can no longer change."),
    )


def safety_check_finish(*, check: SafetyCheck, actor: Any) -> SafetyCheck:
    """Compute the illegal share once every item has a verdict; above the threshold the dataset is unusable."""
    illegal = sample_illegal_count(sample=check, finished=_("This check is already finished."))
    share = ratio(illegal, check.sample_size)
    passed = share <= check.threshold
    with acting_as(actor), transaction.atomic():
        check.illegal_count = illegal
        check.illegal_ratio = share
        check.status = SafetyCheck.Status.PASSED if passed else SafetyCheck.Status.FAILED
        sample_finished(sample=check, actor=actor)
        dataset = check.dataset
        dataset.safety_status = Dataset.SafetyStatus.PASSED if passed else Dataset.SafetyStatus.FAILED
        dataset.save()
    return check


def sample_illegal_count(*, sample: SafetyCheck | CorpusReview, finished: str) -> int:
    """How many items of ``sample`` (a check's or an assessment's) were judged illegal, what finishing it computes
    from. Refused, saying ``finished``, when it is finished already, and while an item still has no verdict."""
    _sample_in_review_check(sample=sample, finished=finished)
    pending = sample.items.filter(verdict=SampleItem.Verdict.PENDING).count()
    if pending:
        raise FilingError(
            _("%(n)d sampled items still have no verdict; judge every item before finishing.") % {"n": pending}
        )
    return sample.items.filter(verdict=SampleItem.Verdict.ILLEGAL).count()


def sample_finished(*, sample: SafetyCheck | CorpusReview, actor: Any) -> None:
    """Save ``sample`` with its outcome as finished by ``actor``, now."""
    sample.finished_by = actor_name(actor)
    sample.finished_at = timezone.now()
    sample.save()


def _user_of(actor: Any) -> Any:
    """The user the history names: a name given as text (``"system:demo_data"``) is the platform acting."""
    return None if isinstance(actor, str) else actor


def dataset_check_exempt(*, dataset: Dataset, reason: str, actor: Any) -> Dataset:
    """Record why ``dataset`` needs no source safety check (for example an openly licensed public data set), so
    that training accepts it without a passed check. Who and when are recorded with the reason, and the change is
    in the dataset's history. A dataset whose check failed cannot be exempted: only a passed check clears it."""
    reason = (reason or "").strip()
    if not reason:
        raise FilingError(_("Write why “%(dataset)s” needs no source safety check.") % {"dataset": dataset.name})
    with acting_as(_user_of(actor)), transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if dataset.safety_status == Dataset.SafetyStatus.FAILED:
            raise FilingError(
                _(
                    "“%(dataset)s” failed its source safety check, so it cannot be exempted from it. Only a new "
                    "check that passes makes it usable again."
                )
                % {"dataset": dataset.name}
            )
        dataset.check_exempt_reason = reason
        dataset.check_exempt_by = actor_name(actor)
        dataset.check_exempt_at = timezone.now()
        dataset.save()
    return dataset


def dataset_check_exemption_withdraw(*, dataset: Dataset, actor: Any) -> Dataset:
    """Withdraw the exemption of ``dataset``: training then needs a passed source safety check again."""
    with acting_as(_user_of(actor)), transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if not dataset.check_exempt:
            return dataset
        dataset.check_exempt_reason = ""
        dataset.check_exempt_by = ""
        dataset.check_exempt_at = None
        dataset.save()
    return dataset


def dataset_links_set(
    *,
    dataset: Dataset,
    services: Iterable[Service],
    model_records: Iterable[ModelRecord],
    actor: Any,
) -> Dataset:
    """Link ``dataset`` to exactly the services and model records that use it; a change is a history record of the
    dataset (``services`` and ``model_records``, each as the names before and after)."""
    wanted: dict[str, list[Any]] = {"services": list(services), "model_records": list(model_records)}
    changes: dict[str, list[Any]] = {}
    with acting_as(_user_of(actor)), transaction.atomic():
        for name, objects in wanted.items():
            manager = getattr(dataset, name)
            before = sorted(str(o) for o in manager.all())
            after = sorted(str(o) for o in objects)
            if {o.pk for o in manager.all()} == {o.pk for o in objects}:
                continue
            manager.set(objects)
            changes[name] = [before, after]
        if changes:
            history_write(instance=dataset, action="changed", changes=changes)
    return dataset
