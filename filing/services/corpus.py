"""The technical sample of a service's whole training corpus (TC260-003 §9.2 b)).

From every data set of the service (``service_datasets``: linked to it or to its model records, or named by
their training runs), at least the configured share of items
(``corpus_technical_sample_ratio_min``) is drawn with the check's seed, read where the platform holds it, and
screened by the moderation layers (the screener ``generation`` registers, ``dataset_item_screener_register``).

- Keyword pass rate = items the keyword layer lets through on its own (ALLOW; a FLAG fails, as a BLOCK does)
  / items it judged.
- Classifier pass rate = the same for the classifier layer; not measured when no classifier takes part.
- Pass rate of the check = items both layers let through / items screened (goal: at least
  ``corpus_technical_pass_rate_min``); not measured without both layers, since the clause asks for both.

A data set whose items are not held here, or are not text, is named in the warnings and left out.
The check runs on a worker (``generation`` registers the task, ``corpus_check_runner_register``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from filing.models import CorpusCheck, CorpusFinding, Dataset, Service
from filing.runners import Runner
from filing.safety.selectors import safety_config
from filing.selectors import service_datasets
from filing.services.common import FilingError, actor_name
from filing.services.datasets import dataset_excerpts, dataset_items_screen, sample_indices

# The layers a screened item carries in ``flags["layers"]``, named as the moderation names them.
KEYWORD_LAYER = "keyword"
CLASSIFIER_LAYER = "classifier"
SEED_MAX = 2**31 - 1

_runner = Runner("corpus check")


def corpus_check_runner_register(runner: Callable[[int], None]) -> None:
    """``runner(check_id)`` queues a corpus technical check; ``generation`` registers its task here."""
    _runner.register(runner)


def corpus_check_enqueue(*, check_id: int) -> None:
    _runner.enqueue(check_id)


def corpus_sample_size(*, items: int, share: Decimal) -> int:
    """At least ``share`` of ``items`` (rounded up), at least one item, never more than there are."""
    return min(items, max(1, math.ceil(Decimal(items) * share)))


def _dataset_seed(seed: int, dataset: Dataset) -> int:
    """Each data set gets its own draw, fixed by the check's seed and the data set's bytes."""
    digest = hashlib.sha256(f"{seed}:{dataset.sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@transaction.atomic
def corpus_check_create(*, service: Service, actor: Any, seed: int | None = None, start: bool = True) -> CorpusCheck:
    """Plan a check of the service's corpus with the share and goal in force, queued after commit."""
    if not service_datasets(service).exists():
        raise FilingError(
            _(
                "No dataset is linked to “%(s)s”, to its model records or to their training runs: there is no corpus "
                "to check."
            )
            % {"s": service.name}
        )
    if seed is None:
        seed = random.SystemRandom().randrange(SEED_MAX + 1)
    if not 0 <= seed <= SEED_MAX:
        raise FilingError(_("The seed must be a whole number from 0 to %(max)d.") % {"max": SEED_MAX})
    config = safety_config()
    check = CorpusCheck.objects.create(
        service=service,
        seed=seed,
        sample_ratio=config.corpus_technical_sample_ratio_min,
        goal=config.corpus_technical_pass_rate_min,
        config_version=config.version,
        created_by=actor_name(actor),
    )
    if start:
        transaction.on_commit(lambda: corpus_check_enqueue(check_id=check.pk))
    return check


def _metric(numerator: int, denominator: int, goal: Decimal) -> dict[str, Any]:
    rate = (
        None
        if not denominator
        else (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    )
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": None if rate is None else str(rate),
        "goal": str(goal),
        "at_least": True,
        "met": None if rate is None else rate >= goal,
    }


@transaction.atomic
def _claim(check_id: int) -> CorpusCheck | None:
    check = CorpusCheck.objects.select_for_update().filter(pk=check_id).first()
    if check is None or check.status != CorpusCheck.Status.QUEUED:
        return None
    check.status = CorpusCheck.Status.RUNNING
    check.save(update_fields=["status"])
    return check


def corpus_check_execute(*, check_id: int) -> CorpusCheck | None:
    """Draw, read and screen the sample and store the rates; None if the check was not queued."""
    check = _claim(check_id)
    if check is None:
        return None
    try:
        _screen(check)
    except Exception as exc:
        CorpusCheck.objects.filter(pk=check.pk).update(
            status=CorpusCheck.Status.FAILED, error=str(exc)[:5000] or type(exc).__name__, finished_at=timezone.now()
        )
        if not isinstance(exc, FilingError):
            raise
    check.refresh_from_db()
    return check


def _screen(check: CorpusCheck) -> None:
    counts = dict.fromkeys(("screened", "passed", "keyword_judged", "keyword_passed"), 0)
    counts |= dict.fromkeys(("classifier_judged", "classifier_passed"), 0)
    entries: list[dict[str, Any]] = []
    warnings: list[str] = []
    findings: list[CorpusFinding] = []
    library_versions: set[int] = set()
    classifier_models: set[str] = set()
    population = 0
    for dataset in service_datasets(check.service):
        entry: dict[str, Any] = {"id": dataset.pk, "name": dataset.name, "sha256": dataset.sha256}
        entry |= {"items": dataset.items, "sampled": 0, "screened": 0}
        entries.append(entry)
        if not dataset.items:
            warnings.append(_("“%(d)s”: its number of items is not recorded; not sampled.") % {"d": dataset.name})
            continue
        size = corpus_sample_size(items=int(dataset.items), share=check.sample_ratio)
        indices = sample_indices(seed=_dataset_seed(check.seed, dataset), population=int(dataset.items), size=size)
        excerpts = dataset_excerpts(dataset, indices)
        if not excerpts:
            warnings.append(_("“%(d)s”: its items are not held on this platform; not screened.") % {"d": dataset.name})
            continue
        flags_by_index = dataset_items_screen(dataset, excerpts)
        if not flags_by_index:
            warnings.append(
                _("“%(d)s”: its items are not text, so keywords and the classifier do not apply; not screened.")
                % {"d": dataset.name}
            )
            continue
        for index in sorted(flags_by_index):
            flags = flags_by_index[index]
            if "error" in flags:
                raise FilingError(flags["error"])
            layers = flags.get("layers", {})
            passes = {layer: decision == "allow" for layer, decision in layers.items()}
            keyword, classifier = passes.get(KEYWORD_LAYER), passes.get(CLASSIFIER_LAYER)
            counts["screened"] += 1
            counts["passed"] += keyword is True and classifier is True
            for layer, passed in ((KEYWORD_LAYER, keyword), (CLASSIFIER_LAYER, classifier)):
                if passed is not None:
                    counts[f"{layer}_judged"] += 1
                    counts[f"{layer}_passed"] += passed
            library_versions.add(int(flags.get("library_version") or 0))
            classifier_models.update(s["model"] for s in (flags.get("classifier") or {}).get("scores", []))
            if keyword is False or classifier is False:
                findings.append(
                    CorpusFinding(
                        check_run=check,
                        dataset=dataset,
                        item_index=index,
                        excerpt=excerpts.get(index, ""),
                        keyword_pass=keyword,
                        classifier_pass=classifier,
                        flags=flags,
                    )
                )
        entry["sampled"] = len(indices)
        entry["screened"] = len(flags_by_index)
        population += int(dataset.items)
    if counts["screened"] and counts["classifier_judged"] < counts["screened"]:
        warnings.append(
            _(
                "The classifier judged %(n)d of the %(total)d items screened; the check asks for keywords and the "
                "classifier, so its pass rate is not measured."
            )
            % {"n": counts["classifier_judged"], "total": counts["screened"]}
        )
    both = counts["passed"] if counts["classifier_judged"] == counts["screened"] else 0
    judged_by_both = counts["screened"] if counts["classifier_judged"] == counts["screened"] else 0
    with transaction.atomic():
        CorpusFinding.objects.bulk_create(findings, batch_size=1000)
        check.datasets = entries
        check.population = population
        check.sampled = counts["screened"]
        check.results = {
            "counts": counts,
            "pass_rate": _metric(both, judged_by_both, check.goal),
            "keyword_pass_rate": _metric(counts["keyword_passed"], counts["keyword_judged"], check.goal),
            "classifier_pass_rate": _metric(counts["classifier_passed"], counts["classifier_judged"], check.goal),
        }
        check.keyword_library_version = max(library_versions) if library_versions else None
        check.classifier_model = ",".join(sorted(classifier_models))[:64]
        check.warnings = warnings
        check.status = CorpusCheck.Status.SUCCEEDED
        check.finished_at = timezone.now()
        check.save()
