"""The moderation classifier as a net of the platform: trained by a training run, measured for the quality gate on
data it never trained on, gated by the versioned thresholds, and measured on an operator's own CSV."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from filing.models import Dataset
from filing.safety.services import safety_threshold_set
from generation.checkpoints import checkpoint_gate_apply, checkpoints_bundled_register
from generation.models import Checkpoint, TrainingRun
from generation.quality import gate_verdict
from generation.training_runs import training_run_create, training_run_execute
from tests.generation.factories import checkpoint_tiny, model_record_for, training_data_exempt

pytestmark = pytest.mark.django_db

# A small labelled set written for these tests: insults of a group against plain remarks.
_OFFENSIVE = ["{}都是骗子，滚出去", "{}没一个好东西，真恶心", "讨厌死{}了，一群废物", "{}蠢得要命，全是垃圾"]
_SAFE = ["{}的朋友请我吃了饭", "我去过{}，风景很好", "{}的老师讲课很认真", "听说{}今年收成不错"]
_WHO = ["河南人", "东北人", "上海人", "女司机", "外地人", "黑人", "男生", "农村人"]


def _labelled_csv(path: Path) -> Path:
    rows = ["TEXT,label"]
    for who in _WHO:
        rows += [f"{pattern.format(who)},1" for pattern in _OFFENSIVE]
        rows += [f"{pattern.format(who)},0" for pattern in _SAFE]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_cold(tmp_path, monkeypatch):
    """COLD replaced by the small set, for training (its train split) and for the gate's figures (its dev split)."""
    from generation.ml import data, evaluation

    path = _labelled_csv(tmp_path / "small.csv")

    def small(split: str = "train") -> data.LabelledTexts:
        return data.labelled_csv(path, name=f"small {split}", source="tests", licence="test", licence_text="")

    monkeypatch.setattr(data, "cold", small)
    monkeypatch.setattr(evaluation, "cold", small)
    training_data_exempt(small("train"))
    return small("train")


def test_a_training_run_trains_measures_and_gates_a_classifier(small_cold):
    from generation.ml.nets.textclf import TextClassifierConfig

    run = training_run_create(
        kind="classifier",
        epochs=2,
        seed=1,
        config=TextClassifierConfig.tiny().to_dict(),
        model_record=model_record_for("classifier"),
        enqueue=False,
    )
    assert run.data == "cold"
    run = training_run_execute(run_id=run.pk, worker="test")

    assert run is not None and run.status == TrainingRun.Status.SUCCEEDED, run and run.error
    assert run.metric_name == "validation_error" and run.epoch_reports.count() == 2
    assert all(not e.samples for e in run.epoch_reports.all())  # no picture of samples
    assert run.dataset_fingerprints == [small_cold.fingerprint]
    assert run.datasets.get().sha256 == small_cold.fingerprint
    checkpoint = run.checkpoints.get()
    assert checkpoint.kind == "classifier"
    assert set(checkpoint.figures) == {"accuracy", "macro_f1", "precision", "recall", "items"}
    assert checkpoint.figures["items"] == len(small_cold.texts)
    assert {c["figure"] for c in checkpoint.gate_checks} == {"accuracy", "macro_f1"}
    assert checkpoint.gate in (Checkpoint.Gate.PASSED, Checkpoint.Gate.FAILED)


def test_the_gate_judges_accuracy_and_macro_f1_by_the_thresholds_in_force():
    good = {"accuracy": 0.85, "macro_f1": 0.84, "precision": 0.8, "recall": 0.9, "items": 6431}
    weak = good | {"macro_f1": 0.70}

    passed, failed = gate_verdict("classifier", good), gate_verdict("classifier", weak)

    assert passed.passed and not failed.passed
    assert [c.threshold_key for c in failed.failures] == ["quality_classifier_macro_f1_min"]
    with translation.override("en"):
        sentence = failed.failures[0].sentence()
    assert sentence == "macro-F1 over the offensive and the safe class: 0.700 (at least 0.810)"
    safety_threshold_set(key="quality_classifier_accuracy_min", value="0.9", actor="test")
    stricter = gate_verdict("classifier", good)
    assert not stricter.passed and stricter.config_version == passed.config_version + 1


def test_a_failing_classifier_never_serves():
    from generation.checkpoints import ServingRefused, checkpoint_promote

    checkpoint = checkpoint_tiny("classifier", activate=False)
    checkpoint_gate_apply(checkpoint=checkpoint, figures={"accuracy": 0.6, "macro_f1": 0.55, "items": 10})

    assert checkpoint.gate == Checkpoint.Gate.FAILED
    with translation.override("en"), pytest.raises(ServingRefused, match="failed the quality gate"):
        checkpoint_promote(checkpoint=checkpoint, by="admin")


def test_the_bundled_classifier_registers_with_its_record_and_cold_as_a_dataset():
    from generation.bundled import manifest, recipe

    entry = manifest()["nets"]["classifier"]
    record = model_record_for("classifier")
    checkpoints_bundled_register(model_records={"classifier": record})

    checkpoint = Checkpoint.objects.get(kind="classifier")
    assert checkpoint.sha256 == entry["sha256"] and checkpoint.is_active and checkpoint.model_record == record
    assert checkpoint.gate == Checkpoint.Gate.PASSED and checkpoint.figures["accuracy"] >= 0.82
    cold = checkpoint.training_run.datasets.get()
    assert cold.sha256 == recipe()["data"]["cold"] and cold.licence == "Apache-2.0"
    assert "COLDataset" in cold.source and "Apache License" in cold.licence_text
    assert Dataset.objects.filter(sha256=recipe()["data"]["cold"]).count() == 1


@pytest.fixture
def serving_classifier():
    checkpoints_bundled_register(model_records={"classifier": model_record_for("classifier")})
    return Checkpoint.objects.get(kind="classifier", is_active=True)


def test_classifier_eval_prints_the_figures_and_ends_with_one_summary_line(serving_classifier, tmp_path):
    out = io.StringIO()
    call_command("classifier_eval", str(_labelled_csv(tmp_path / "mine.csv")), "--limit", "20", stdout=out)

    lines = out.getvalue().strip().splitlines()
    assert lines[0].startswith(f"classifier {serving_classifier.sha256[:12]} (serving), 20 texts of mine.csv")
    assert re.fullmatch(r"offensive class: precision \d\.\d{3}, recall \d\.\d{3}", lines[1])
    assert re.search(r"latency per text: mean \d+\.\d\d ms, p99 \d+\.\d\d ms", out.getvalue())
    assert re.fullmatch(r"classifier: accuracy \d\.\d{3}, macro-F1 \d\.\d{3}", lines[-1])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "There is no file"),
        ("text,label\n你好,0\n", "has no column TEXT"),
        ("TEXT,label\n你好,2\n", "line 2: a row needs a text and the label 0 or 1"),
        ("TEXT,label\n", "has no rows to measure"),
        (b"TEXT,label\n\xc4\xe3\xba\xc3,0\n", "is not UTF-8"),
    ],
)
def test_classifier_eval_refuses_a_bad_file_with_a_sentence(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)

    with pytest.raises(CommandError, match=message):
        call_command("classifier_eval", str(path), stdout=io.StringIO())


def test_classifier_eval_needs_a_serving_classifier(tmp_path):
    with pytest.raises(CommandError, match="No moderation classifier serves"):
        call_command("classifier_eval", str(_labelled_csv(tmp_path / "mine.csv")), stdout=io.StringIO())


def test_manage_py_train_classifier_trains_in_this_process(small_cold):
    out = io.StringIO()
    call_command("train", "classifier", "--epochs", "1", stdout=out)

    run = TrainingRun.objects.get(kind="classifier")
    assert run.status == TrainingRun.Status.SUCCEEDED and run.data == "cold"
    assert "best validation_error" in out.getvalue()
    assert run.checkpoints.get().gate_checks
