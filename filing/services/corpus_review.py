"""The manual assessment of a service's whole training corpus (TC260-003 §9.2 a)): a seeded random sample of at least
``corpus_manual_sample_min`` items (4,000 as shipped) drawn from all the data sets of the service at once (each item
of the corpus equally likely), judged item by item by reviewers as the source safety check's samples are; its pass
rate is the self-assessment's corpus manual pass rate, against ``corpus_manual_pass_rate_min`` (96% as shipped).
The sample is never smaller than ``FILING_CORPUS_MANUAL_SAMPLE_FLOOR`` (4,000) unless the corpus is.

It is not the source safety check of one data set (``datasets.safety_check_start``, §5.1 a)), which has its own
sample size, nor the technical sample of the corpus (``corpus``, §9.2 b))."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from filing.history import acting_as
from filing.models import CorpusReview, CorpusReviewItem, Dataset, Service
from filing.safety.selectors import safety_config
from filing.selectors import service_datasets
from filing.services.common import FilingError, actor_name, ratio
from filing.services.datasets import (
    VerdictInput,
    dataset_excerpts,
    dataset_items_screen,
    sample_finished,
    sample_illegal_count,
    sample_indices,
    sample_verdicts_record,
)


def corpus_review_start(
    *, service: Service, actor: Any, seed: int | None = None, sample_size: int | None = None
) -> CorpusReview:
    """Draw the sample of the whole corpus of ``service`` that reviewers will judge. The size is the configured
    minimum unless a larger one is asked for (a smaller one is refused); a corpus smaller than that is judged
    whole. Every data set of the service needs its item count."""
    if service.corpus_reviews.filter(status=CorpusReview.Status.IN_REVIEW).exists():
        raise FilingError(_("A manual assessment of this service's corpus is already in review."))
    datasets = list(service_datasets(service))
    if not datasets:
        raise FilingError(_("The service has no dataset: link its training data to it first."))
    unknown = [d.name for d in datasets if not d.items]
    if unknown:
        raise FilingError(
            _("Enter the number of items of %(names)s before assessing the corpus.")
            % {"names": ", ".join(f"“{name}”" for name in unknown)}
        )
    config = safety_config()
    least = max(int(config.corpus_manual_sample_min), int(settings.FILING_CORPUS_MANUAL_SAMPLE_FLOOR))
    if sample_size is not None and sample_size < least:
        raise FilingError(
            _("The manual assessment of the corpus samples at least %(n)d items (or the whole corpus when smaller).")
            % {"n": least}
        )
    starts = []
    population = 0
    for dataset in datasets:
        starts.append(population)
        population += int(dataset.items or 0)
    size = min(int(sample_size or least), population)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    drawn = sample_indices(seed=seed, population=population, size=size)
    placed: list[tuple[Dataset, int]] = []
    for index in drawn:
        at = bisect.bisect_right(starts, index) - 1
        placed.append((datasets[at], index - starts[at]))
    excerpts: dict[tuple[int, int], str] = {}
    flags: dict[tuple[int, int], dict[str, Any]] = {}
    for dataset in datasets:
        indices = [i for d, i in placed if d.pk == dataset.pk]
        if not indices:
            continue
        found = dataset_excerpts(dataset, indices)
        for i, text in found.items():
            excerpts[(dataset.pk, i)] = text
        for i, flag in dataset_items_screen(dataset, found).items():
            flags[(dataset.pk, i)] = flag
    with acting_as(actor), transaction.atomic():
        review = CorpusReview.objects.create(
            service=service,
            seed=seed,
            population=population,
            sample_size=size,
            sample_min=least,
            goal=config.corpus_manual_pass_rate_min,
            config_version=config.version,
            datasets=[
                {
                    "id": d.pk,
                    "name": d.name,
                    "sha256": d.sha256,
                    "items": d.items,
                    "sampled": sum(1 for s, _i in placed if s.pk == d.pk),
                }
                for d in datasets
            ],
            started_by=actor_name(actor),
        )
        CorpusReviewItem.objects.bulk_create(
            [
                CorpusReviewItem(
                    review=review,
                    position=position,
                    dataset=dataset,
                    item_index=index,
                    excerpt=excerpts.get((dataset.pk, index), ""),
                    prescreen=flags.get((dataset.pk, index), {}),
                )
                for position, (dataset, index) in enumerate(placed, start=1)
            ],
            batch_size=1000,
        )
    return review


def corpus_review_verdicts_record(*, review: CorpusReview, verdicts: Iterable[VerdictInput], actor: Any) -> int:
    """Store reviewers' verdicts on sampled items of the corpus; returns how many changed."""
    return sample_verdicts_record(
        sample=review,
        verdicts=verdicts,
        actor=actor,
        finished=_("This assessment is finished; its verdicts can no longer change."),
    )


def corpus_review_finish(*, review: CorpusReview, actor: Any) -> CorpusReview:
    """Compute the pass rate once every item has a verdict, and whether it meets the goal."""
    failed = sample_illegal_count(sample=review, finished=_("This assessment is already finished."))
    rate = ratio(review.sample_size - failed, review.sample_size)
    with acting_as(actor), transaction.atomic():
        review.failed_count = failed
        review.pass_rate = rate
        review.status = CorpusReview.Status.MET if rate >= review.goal else CorpusReview.Status.NOT_MET
        sample_finished(sample=review, actor=actor)
    return review
