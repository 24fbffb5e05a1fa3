"""Operators start and watch training runs; checkpoints are chosen by quality."""

import pytest

from genai_platform.roles import Role
from generation.models import Checkpoint, TrainingRun
from generation.training import training_bootstrap, training_run_create
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db


def test_operator_starts_a_training_run_from_the_admin(client_for, django_capture_on_commit_callbacks):
    client = client_for(Role.OPERATOR)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/admin/generation/trainingrun/add/", {"kind": "vae", "seed": "3", "epochs": "2", "minutes": ""}
        )

    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response.url == f"/ops/training/{run.pk}/"
    assert (run.kind, run.seed, run.epochs, run.status) == ("vae", 3, 2, TrainingRun.Status.QUEUED)
    assert len(callbacks) == 1


def test_watch_page_and_state_for_operators_only(client_for):
    run = training_run_create(kind="gan", epochs=1, enqueue=False)

    operator = client_for(Role.OPERATOR)
    page = operator.get(f"/ops/training/{run.pk}/")
    state = operator.get(f"/ops/training/{run.pk}/state.json").json()

    assert page.status_code == 200
    assert state["status"] == "queued" and state["epochs"] == []
    assert client_for(Role.END_USER).get(f"/ops/training/{run.pk}/").status_code == 403


@pytest.mark.parametrize(
    ("kind", "language", "phrase"),
    [
        ("gan", "en", "against the <em>training</em> digits"),
        ("gan", "zh-hans", "相对于<em>训练</em>数字"),
        ("vae", "en", "a tenth of the training digits kept out of training"),
        ("lm", "en", "measured on the held-out text"),
    ],
)
def test_watch_page_says_what_its_quality_figure_is_measured_on(client_for, kind, language, phrase):
    run = training_run_create(kind=kind, epochs=1, enqueue=False)

    page = client_for(Role.OPERATOR).get(f"/ops/training/{run.pk}/", HTTP_ACCEPT_LANGUAGE=language)

    assert page.status_code == 200
    assert phrase in page.content.decode()


def test_training_needs_a_budget():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        training_run_create(kind="lm", enqueue=False)
    with pytest.raises(ValidationError):
        training_run_create(kind="lm", minutes=10_000, enqueue=False)


def test_bootstrap_starts_one_demo_run_per_net_without_a_checkpoint(django_capture_on_commit_callbacks):
    checkpoint_tiny("gan")

    with django_capture_on_commit_callbacks():
        runs = training_bootstrap()
        again = training_bootstrap()

    assert sorted(r.kind for r in runs) == ["lm", "vae"]
    assert all(r.is_demo for r in runs)
    assert again == []


def test_admin_pages_render_for_an_operator(client_for):
    checkpoint = checkpoint_tiny("vae")
    client = client_for(Role.OPERATOR)

    for url in (
        "/admin/generation/checkpoint/",
        f"/admin/generation/checkpoint/{checkpoint.pk}/change/",
        "/admin/generation/trainingrun/",
        "/admin/generation/trainingrun/add/",
        "/admin/generation/job/",
        "/admin/generation/output/",
    ):
        assert client.get(url).status_code == 200, url
    assert Checkpoint.objects.get().is_active


def test_admin_form_explains_a_bad_training_request(client_for):
    client = client_for(Role.OPERATOR)

    response = client.post(
        "/admin/generation/trainingrun/add/", {"kind": "lm", "data": "mnist5k", "seed": "0", "epochs": "1"}
    )

    assert response.status_code == 200
    assert "trains on text" in response.content.decode() or "文本" in response.content.decode()
    assert not TrainingRun.objects.exists()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("kind", "data", "config"),
    [
        ("gan", "digits8", "GanConfig"),
        ("vae", "digits8", "VaeConfig"),
        ("lm", "songci", "LmConfig"),
    ],
)
def test_a_real_worker_trains_a_tiny_net_and_serves_its_best_checkpoint(celery_worker_thread, kind, data, config):
    import time

    from generation.ml.nets import attention, gan, vae

    tiny = {"GanConfig": gan.GanConfig, "VaeConfig": vae.VaeConfig, "LmConfig": attention.LmConfig}[config]
    tiny = tiny.tiny().to_dict()
    run = training_run_create(kind=kind, data=data, epochs=2, config=tiny, seed=1)

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in ("succeeded", "failed"):
            break
        time.sleep(0.5)

    assert run.status == "succeeded", run.error
    assert run.epoch_reports.count() == 2
    assert run.dataset_fingerprints and len(run.dataset_fingerprints[0]) == 64
    assert run.code_version and run.torch_version.startswith("2.13")
    checkpoint = run.checkpoints.get()
    assert checkpoint.is_active
    best = min(e.metrics[run.metric_name] for e in run.epoch_reports.all())
    assert checkpoint.metric_value == pytest.approx(best)


def test_training_on_a_dataset_that_failed_its_safety_check_is_refused():
    from django.utils import translation

    from filing.models import Dataset
    from generation.ml.data import digits8
    from generation.ml.nets.vae import VaeConfig
    from generation.training import training_run_execute

    data = digits8()
    Dataset.objects.create(
        name=data.name,
        sha256=data.fingerprint,
        source=data.source,
        source_type=Dataset.SourceType.OPEN_SOURCE,
        origin=Dataset.Origin.OVERSEAS,
        safety_status=Dataset.SafetyStatus.FAILED,
    )
    run = training_run_create(kind="vae", data="digits8", epochs=1, config=VaeConfig.tiny().to_dict(), enqueue=False)

    with translation.override("en"):
        run = training_run_execute(run_id=run.pk)

    assert run is not None and run.status == TrainingRun.Status.FAILED
    assert "may not be used for training" in run.error or "unusable" in run.error
    assert not run.checkpoints.exists()


@pytest.mark.parametrize(("serving_classifier", "served"), [(None, True), ("0" * 64, False)])
def test_a_better_gan_replaces_the_serving_one_only_when_measured_by_the_same_classifier(serving_classifier, served):
    from generation.ml.nets.gan import GanConfig
    from generation.training import training_run_execute

    serving = checkpoint_tiny("gan")
    config = dict(serving.config)
    if serving_classifier:
        config["fid_classifier_sha256"] = serving_classifier
    Checkpoint.objects.filter(pk=serving.pk).update(metric_name="fid", metric_value=1e9, config=config)
    run = training_run_create(kind="gan", data="digits8", epochs=1, config=GanConfig.tiny().to_dict(), enqueue=False)

    run = training_run_execute(run_id=run.pk)

    assert run is not None and run.status == "succeeded", run and run.error
    assert len(run.hyperparameters["fid_classifier_sha256"]) == 64
    new = run.checkpoints.get()
    assert new.config["fid_classifier_sha256"] == run.hyperparameters["fid_classifier_sha256"]
    assert new.metric_value < 1e9
    serving.refresh_from_db()
    assert (new.is_active, serving.is_active) == (served, not served)
