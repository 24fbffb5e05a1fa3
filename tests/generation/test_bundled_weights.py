"""The nets bundled in the repository: their files, lineage and figures, and a fresh install that serves them.

A fresh database gets them from ``migrate`` plus the demo data, with no training run: the GAN's first request
for each digit must give digits the project's classifier reads as the digit asked for.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from django.core.management import call_command

from filing.models import Dataset
from filing.safety.selectors import safety_config
from generation.bundled import BundledFileDamaged, bundled_bytes, manifest, recipe
from generation.models import Checkpoint, Job, TrainingRun
from generation.quality import gate_verdict

KINDS = ("gan", "vae", "lm", "classifier")


@pytest.fixture
def fresh_database() -> None:
    """No service yet, as after ``migrate`` on a new machine (the generation tests otherwise start with one)."""
    from filing.models import Provider, Service

    Service.objects.all().delete()
    Provider.objects.all().delete()


@pytest.fixture(scope="module")
def nets() -> dict[str, dict]:  # type: ignore[type-arg]
    found = manifest().get("nets", {})
    assert set(found) == set(KINDS), "generation/weights/manifest.json must list the gan, vae, lm and classifier nets"
    return found


def test_every_bundled_file_is_as_the_manifest_says_and_small(nets):
    total = 0
    for kind, entry in nets.items():
        data = bundled_bytes(entry)  # checks the SHA-256
        assert len(data) == entry["size_bytes"]
        total += len(data)
        assert entry["precision"] == recipe()["nets"][kind]["precision"]
    assert total <= recipe().get("size_limit_mb", 20) * 1_000_000


def test_every_bundled_net_carries_its_lineage_from_the_recipe(nets):
    spec = recipe()
    for kind, entry in nets.items():
        lineage = entry["lineage"]
        wanted = spec["nets"][kind]
        recorded = (lineage["seed"], lineage["epochs"], lineage["data"])
        # A recipe without epochs trains for its configuration's.
        epochs = wanted["epochs"] or lineage["hyperparameters"]["epochs"]
        assert recorded == (wanted["seed"], epochs, wanted["data"])
        assert lineage["training_cpu_seconds"] <= wanted.get("cpu_minutes", float("inf")) * 60
        assert [d["sha256"] for d in lineage["datasets"]] == [spec["data"][wanted["data"]]]
        assert lineage["datasets"][0]["licence"] and lineage["datasets"][0]["source"]
        assert lineage["code_version"] and lineage["torch_version"].startswith("2.13")
        assert lineage["hyperparameters"]["seed"] == wanted["seed"]
        assert len(lineage["full_checkpoint_sha256"]) == 64


@pytest.mark.django_db
def test_every_bundled_net_passes_the_quality_gate_on_its_recorded_figures(nets):
    config = safety_config()
    for kind, entry in nets.items():
        verdict = gate_verdict(kind, entry["figures"], config)
        assert verdict.passed, [check.sentence() for check in verdict.failures]


def test_the_bundled_goals_hold(nets):
    assert nets["gan"]["figures"]["digit_fid_ratio"] <= 1.5
    assert nets["gan"]["figures"]["conditional_accuracy"] >= 0.97
    assert nets["vae"]["figures"]["test_nats"] <= 90
    assert nets["lm"]["figures"]["nats_per_char"] <= 4.3
    assert nets["lm"]["figures"]["guided_form_rate"] >= 0.8
    assert len(nets["lm"]["tunes"]) == 20
    classifier = nets["classifier"]
    assert classifier["figures"]["accuracy"] >= 0.82 and classifier["figures"]["macro_f1"] >= 0.81
    assert classifier["figures"]["items"] == 6431  # COLD's whole dev split
    # Stored in half precision, it reads the dev split as it did in full precision.
    assert abs(classifier["figures"]["accuracy"] - classifier["figures_full_precision"]["accuracy"]) <= 0.002
    assert classifier["size_bytes"] <= 8_000_000


def test_a_changed_bundled_file_is_refused(nets):
    damaged = nets["vae"] | {"sha256": "0" * 64}

    with pytest.raises(BundledFileDamaged, match="changed or damaged"):
        bundled_bytes(damaged)


def test_the_bundled_checkpoints_load_as_recorded(nets):
    from generation.ml.checkpoints import checkpoint_loads

    for kind, entry in nets.items():
        loaded = checkpoint_loads(bundled_bytes(entry), expected_sha256=entry["sha256"])
        assert loaded.kind == kind and list(loaded.parts) == entry["parts"]
        assert loaded.extra["lineage"] == entry["lineage"]


@pytest.mark.django_db
def test_demo_data_on_a_fresh_database_registers_the_bundled_nets_and_serves_them(nets, fresh_database):
    call_command("demo_data", stdout=io.StringIO())
    call_command("demo_data", stdout=io.StringIO())  # a second run changes nothing

    assert Checkpoint.objects.count() == 4
    for kind, entry in nets.items():
        checkpoint = Checkpoint.objects.get(kind=kind)
        assert checkpoint.sha256 == entry["sha256"] and checkpoint.is_active
        assert checkpoint.origin == Checkpoint.Origin.BUNDLED and checkpoint.gate == Checkpoint.Gate.PASSED
        assert checkpoint.model_record is not None and checkpoint.model_record.service.is_public
        run = checkpoint.training_run
        assert run.origin == TrainingRun.Origin.BUNDLED and run.status == TrainingRun.Status.SUCCEEDED
        assert run.seed == entry["lineage"]["seed"] and run.code_version == entry["lineage"]["code_version"]
        dataset = run.datasets.get()
        assert dataset.sha256 == entry["lineage"]["datasets"][0]["sha256"]
    assert Dataset.objects.count() == 3  # the digits (GAN and VAE), the Song ci and COLD's train split
    assert not TrainingRun.objects.exclude(origin=TrainingRun.Origin.BUNDLED).exists()  # no training run


def _plate_mask() -> np.ndarray:
    """The pixels of a 224x224 output the visible label plate covers (drawn on grey, they are no longer grey)."""
    from PIL import Image

    from generation.labels.explicit import image_label_draw

    grey = Image.new("L", (224, 224), 128)
    image_label_draw(grey)
    return np.asarray(grey) != 128


@pytest.mark.django_db
def test_on_a_fresh_install_the_first_request_for_each_digit_gives_that_digit(django_user_model, fresh_database):
    """What newcomers get: migrate, demo data, then first requests of 4 images per digit (the form's default),
    five of them per digit with different seeds, as five newcomers would make."""
    import torch
    from PIL import Image

    from generation import services
    from generation.ml import metrics
    from generation.ml.data import mnist5k

    call_command("demo_data", stdout=io.StringIO())
    user = django_user_model.objects.get(username="enduser")
    mask = _plate_mask()
    classifier = metrics.digit_classifier(mnist5k())
    asked, images = [], []
    for digit, newcomer in itertools.product(range(10), range(5)):
        params = {"digit": digit, "count": 4, "seed": 100 * newcomer + digit}
        job = services.job_submit(user=user, kind="gan", params=params)
        job = services.job_run(job_id=job.pk, worker="test")
        assert job is not None and job.status == Job.Status.SUCCEEDED, job and job.reason
        for output in job.outputs.all():
            with output.file.open("rb") as f:
                pixels = np.asarray(Image.open(f).convert("L")).copy()
            pixels[mask] = 0  # the label plate, not the digit
            images.append(pixels[4::8, 4::8])  # 224 → 28, one pixel of each 8x8 block
            asked.append(digit)

    _, read = metrics.classifier_features(classifier, torch.from_numpy(np.stack(images)))
    share = float((read == np.array(asked)).mean())
    assert share >= 0.95, f"{share:.1%} of the first digits read as the digit asked for"
