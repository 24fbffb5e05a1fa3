"""Measure the serving moderation classifier on a labelled CSV: ``manage.py classifier_eval FILE.csv [--limit N]``.

The CSV has COLD's layout: a ``TEXT`` column and a ``label`` column (1 offensive, 0 not). Each text is scored
alone, as the moderation step scores a prompt, so the latency printed is the classifier's per text. A text counts
as read offensive when the offensive class is the likelier one, as in the quality gate's figures; the shares the
thresholds in force would refuse or send for review are printed beside them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.checkpoints import checkpoint_serving
from generation.models import NetKind


class Command(BaseCommand):
    help = "Measure the serving moderation classifier on a labelled CSV (columns TEXT and label)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path, help="CSV with the columns TEXT and label (0 or 1)")
        parser.add_argument("--limit", type=int, help="measure only the first N rows")

    def handle(self, *args: Any, file: Path, limit: int | None, **options: Any) -> None:
        import numpy as np

        from filing.safety.selectors import safety_config
        from generation.ml.data import labelled_csv
        from generation.ml.evaluation import CLASSIFIER_FIGURE_SCORE
        from generation.ml.runtime import torch_threads_set
        from generation.ml.scoring import TextScorer
        from generation.ml.training.classifier import classification_figures

        if limit is not None and limit < 1:
            raise CommandError("--limit must be a whole number of at least 1.")
        if not file.is_file():
            raise CommandError(f"There is no file {file}.")
        try:
            data = labelled_csv(file, name=file.name, source=str(file), licence="", licence_text="")
        except UnicodeDecodeError:
            raise CommandError(f"{file.name} is not UTF-8 text; save it as a UTF-8 CSV.") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        texts, labels = list(data.texts[:limit]), list(data.labels[:limit])
        if not texts:
            raise CommandError(f"{file.name} has no rows to measure.")

        checkpoint = checkpoint_serving(NetKind.CLASSIFIER)
        if checkpoint is None:
            raise CommandError(
                "No moderation classifier serves: train one (manage.py train classifier) or load the bundled one."
            )
        with checkpoint.file.open("rb") as f:
            scorer = TextScorer(f.read(), sha256=checkpoint.sha256)
        torch_threads_set(settings.GENAI_TORCH_THREADS)

        scores, latencies = [], []
        for text in texts:
            started = time.perf_counter()
            scores.append(scorer.score(text))
            latencies.append((time.perf_counter() - started) * 1000)
        scored = np.asarray(scores)
        figures = classification_figures(labels, (scored >= CLASSIFIER_FIGURE_SCORE).astype(int).tolist())
        config = safety_config()
        block_at, flag_at = float(config.classifier_block_score_min), float(config.classifier_flag_score_min)
        refused = float((scored >= block_at).mean())
        reviewed = float(((scored >= flag_at) & (scored < block_at)).mean())

        offensive = sum(labels)
        self.stdout.write(
            f"classifier {checkpoint.sha256[:12]} (serving), {len(texts)} texts of {file.name} ({offensive} offensive)"
        )
        self.stdout.write(f"offensive class: precision {figures.precision:.3f}, recall {figures.recall:.3f}")
        self.stdout.write(
            f"at the thresholds in force (configuration v{config.version}): refused {refused:.1%} "
            f"(score ≥ {block_at:g}), sent for review {reviewed:.1%} (score ≥ {flag_at:g})"
        )
        mean, p99 = float(np.mean(latencies)), float(np.percentile(latencies, 99))
        self.stdout.write(
            f"latency per text: mean {mean:.2f} ms, p99 {p99:.2f} ms ({settings.GENAI_TORCH_THREADS} torch thread(s))"
        )
        self.stdout.write(f"classifier: accuracy {figures.accuracy:.3f}, macro-F1 {figures.macro_f1:.3f}")
