"""Operators start and watch training runs; a run's checkpoint is measured and serves only past the gate."""

import pytest

from genai_platform.roles import Role
from generation.checkpoints import checkpoint_gate_apply, checkpoint_promote
from generation.models import Checkpoint, TrainingRun
from generation.training_runs import training_run_create
from tests.generation.factories import checkpoint_tiny, model_record_for, training_data_exempt

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


def _lenient_gate() -> None:
    """Thresholds a tiny net two epochs old can pass (the real ones it cannot)."""
    from filing.safety.services import safety_threshold_set

    for key, value in {
        "quality_gan_accuracy_min": "0",
        "quality_gan_fid_ratio_max": "1000000",
        "quality_vae_nats_max": "1000000",
        "quality_lm_bigram_margin_min": "0",
        "quality_lm_whole_piece_rate_min": "0",
    }.items():
        safety_threshold_set(key=key, value=value, actor="test")


def _finished(run: TrainingRun, timeout: float = 240) -> TrainingRun:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in TrainingRun.FINISHED:
            return run
        time.sleep(0.5)
    return run


def _tiny(config: str) -> dict:  # type: ignore[type-arg]
    from generation.ml.nets import attention, gan, vae

    return (
        {"GanConfig": gan.GanConfig, "VaeConfig": vae.VaeConfig, "LmConfig": attention.LmConfig}[config]
        .tiny()
        .to_dict()
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("kind", "data", "config"),
    [
        ("gan", "digits8", "GanConfig"),
        ("vae", "digits8", "VaeConfig"),
        ("lm", "songci", "LmConfig"),
    ],
)
def test_a_real_worker_trains_a_tiny_net_measures_it_and_the_gate_keeps_it_from_serving(
    celery_worker_thread, kind, data, config
):
    from filing.safety.services import safety_threshold_set

    # 8x8 digits have few pixels, so few nats: a VAE of them passes the 28x28 threshold without being good.
    safety_threshold_set(key="quality_vae_nats_max", value="1", actor="test")
    training_data_exempt(data)
    run = _finished(training_run_create(kind=kind, data=data, epochs=2, config=_tiny(config), seed=1))

    assert run.status == "succeeded", run.error
    assert run.phase == TrainingRun.Phase.DONE and run.progress == 1.0
    assert run.epoch_reports.count() == 2
    assert run.dataset_fingerprints and len(run.dataset_fingerprints[0]) == 64
    assert run.code_version and run.torch_version.startswith("2.13")
    checkpoint = run.checkpoints.get()
    best = min(e.metrics[run.metric_name] for e in run.epoch_reports.all())
    assert checkpoint.metric_value == pytest.approx(best)
    # Two epochs of a tiny net do not pass the gate: kept, with its failing figures, and not served.
    assert checkpoint.gate == Checkpoint.Gate.FAILED and not checkpoint.is_active
    assert checkpoint.figures and any(not check["passed"] for check in checkpoint.gate_checks)
    assert not Checkpoint.objects.filter(is_active=True).exists()


@pytest.mark.integration
def test_a_run_whose_checkpoint_passes_the_gate_serves_it_when_the_operator_asked(celery_worker_thread):
    _lenient_gate()
    training_data_exempt("digits8")

    run = _finished(
        training_run_create(
            kind="vae",
            data="digits8",
            epochs=2,
            config=_tiny("VaeConfig"),
            seed=1,
            model_record=model_record_for("vae"),
            serve_if_better=True,
        )
    )

    assert run.status == "succeeded", run.error
    checkpoint = run.checkpoints.get()
    assert checkpoint.gate == Checkpoint.Gate.PASSED and checkpoint.is_active
    assert set(checkpoint.figures) >= {"test_nats", "independent_pixel_nats"}


def test_training_on_a_dataset_that_failed_its_safety_check_is_refused():
    from django.utils import translation

    from filing.models import Dataset
    from generation.ml.data import digits8
    from generation.ml.nets.vae import VaeConfig
    from generation.training_runs import training_run_execute

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


@pytest.mark.parametrize(("serving_classifier", "served"), [("same", True), ("0" * 64, False)])
def test_a_better_gan_replaces_the_serving_one_only_when_measured_by_the_same_classifier(serving_classifier, served):
    from generation.ml import metrics
    from generation.ml.data import digits8
    from generation.ml.nets.gan import GanConfig
    from generation.training_runs import training_run_execute

    _lenient_gate()
    training_data_exempt(digits8())
    classifier = metrics.weights_sha256(metrics.digit_classifier(digits8()))
    serving = checkpoint_tiny("gan", activate=False)
    figures = {
        "conditional_accuracy": 1.0,
        "digit_fid_ratio": 1e5,
        "classifier_sha256": classifier if serving_classifier == "same" else serving_classifier,
    }
    checkpoint_gate_apply(checkpoint=serving, figures=figures)
    checkpoint_promote(checkpoint=serving, by="admin")
    run = training_run_create(
        kind="gan",
        data="digits8",
        epochs=1,
        config=GanConfig.tiny().to_dict(),
        enqueue=False,
        model_record=serving.model_record,
        serve_if_better=True,
    )

    run = training_run_execute(run_id=run.pk)

    assert run is not None and run.status == "succeeded", run and run.error
    new = run.checkpoints.get()
    assert new.figures["classifier_sha256"] == classifier
    assert new.gate == Checkpoint.Gate.PASSED and new.figures["digit_fid_ratio"] < 1e5
    serving.refresh_from_db()
    assert (new.is_active, serving.is_active) == (served, not served)
