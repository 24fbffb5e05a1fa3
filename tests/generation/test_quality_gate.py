"""The quality gate: a checkpoint serves only when its figures pass the thresholds in force, or when an
operator overrides the gate with a written reason; both decisions are audit events."""

from __future__ import annotations

import pytest
from django.utils import translation

from filing.safety.selectors import safety_config
from filing.safety.services import safety_threshold_set
from genai_platform.roles import Role
from generation.checkpoints import (
    ServingRefused,
    checkpoint_beats,
    checkpoint_gate_apply,
    checkpoint_gate_override,
    checkpoint_promote,
)
from generation.models import Checkpoint
from generation.quality import figure_format, figures_readable, gate_verdict
from tests.generation.factories import checkpoint_tiny

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in English; the site's default language is Chinese."""
    from django.utils import translation

    with translation.override("en"):
        yield


PASSING = {
    "gan": {"conditional_accuracy": 0.975, "digit_fid_ratio": 1.4, "classifier_sha256": "a" * 64},
    "vae": {"test_nats": 89.5},
    "lm": {"bigram_margin": 0.8, "whole_piece_rate": 0.95, "nats_per_char": 4.2},
}
# The figures of the grey-noise GAN and the gibberish language model a fresh install used to serve.
FAILING = {
    "gan": {"conditional_accuracy": 0.10, "digit_fid_ratio": 1050.0, "classifier_sha256": "a" * 64},
    "vae": {"test_nats": 140.0},
    "lm": {"bigram_margin": -1.12, "whole_piece_rate": 0.05, "nats_per_char": 6.18},
}


_seeds = iter(range(100, 10_000))


def _measured(kind: str, figures: dict) -> Checkpoint:  # type: ignore[type-arg]
    """A checkpoint of its own (a fresh seed, so fresh bytes) judged on ``figures``."""
    checkpoint = checkpoint_tiny(kind, activate=False, seed=next(_seeds))
    checkpoint_gate_apply(checkpoint=checkpoint, figures=figures)
    return checkpoint


@pytest.mark.parametrize("kind", ["gan", "vae", "lm"])
def test_the_gate_judges_each_kind_by_the_configured_thresholds(kind):
    config = safety_config()

    assert gate_verdict(kind, PASSING[kind], config).passed
    failing = gate_verdict(kind, FAILING[kind], config)
    assert not failing.passed and failing.failures
    assert failing.config_version == config.version


def test_a_missing_or_diverged_figure_fails_its_check():
    verdict = gate_verdict("gan", {"conditional_accuracy": float("nan")})

    assert not verdict.passed
    assert [check.value for check in verdict.checks] == [None, None]


def test_thresholds_are_versioned_configuration_that_operators_change():
    assert not gate_verdict("vae", {"test_nats": 105.0}).passed

    safety_threshold_set(key="quality_vae_nats_max", value="110", actor="op")

    verdict = gate_verdict("vae", {"test_nats": 105.0})
    assert verdict.passed and verdict.config_version == safety_config().version


@pytest.mark.parametrize("kind", ["gan", "vae", "lm"])
def test_a_failing_checkpoint_is_kept_with_its_figures_but_never_promoted(kind, audit_log):
    checkpoint = _measured(kind, FAILING[kind])

    with pytest.raises(ServingRefused) as refused:
        checkpoint_promote(checkpoint=checkpoint, by="admin")

    checkpoint.refresh_from_db()
    assert checkpoint.gate == Checkpoint.Gate.FAILED and not checkpoint.is_active
    assert checkpoint.figures == FAILING[kind]
    assert any(not check["passed"] for check in checkpoint.gate_checks)
    assert "failed the quality gate" in refused.value.message
    assert not audit_log.filter(event_type="generation.checkpoint_served").exists()


def test_an_unmeasured_checkpoint_is_not_promoted_either():
    checkpoint = checkpoint_tiny("vae", activate=False)

    with pytest.raises(ServingRefused, match="not been measured"):
        checkpoint_promote(checkpoint=checkpoint, by="admin")


def test_a_passing_checkpoint_serves_and_the_promotion_is_audited(audit_log):
    old = _measured("vae", {"test_nats": 95.0})
    checkpoint_promote(checkpoint=old, by="admin")
    new = _measured("vae", PASSING["vae"])

    checkpoint_promote(checkpoint=new, by="admin")

    old.refresh_from_db()
    new.refresh_from_db()
    assert new.is_active and not old.is_active
    record = audit_log.filter(event_type="generation.checkpoint_served").last()
    assert record.checkpoint_sha256 == new.sha256
    assert record.payload_data["gate"] == "passed" and record.payload_data["replaced"] == [old.sha256]


def test_an_override_needs_a_reason_is_audited_and_then_serves(audit_log, user_with_role):
    operator = user_with_role(Role.OPERATOR)
    checkpoint = _measured("gan", FAILING["gan"])

    with pytest.raises(ServingRefused, match="at least 10"):
        checkpoint_gate_override(checkpoint=checkpoint, actor=operator, reason="  ok ")
    checkpoint_gate_override(checkpoint=checkpoint, actor=operator, reason="Demonstration of a bad net to auditors")
    checkpoint_promote(checkpoint=checkpoint, actor=operator, by="admin")

    checkpoint.refresh_from_db()
    assert checkpoint.is_active and checkpoint.gate == Checkpoint.Gate.FAILED
    assert checkpoint.gate_override_by == operator.username
    override = audit_log.get(event_type="generation.quality_gate_overridden")
    assert override.actor_username == operator.username
    assert override.payload_data["reason"] == "Demonstration of a bad net to auditors"
    assert set(override.payload_data["failing"]) == {"conditional_accuracy", "digit_fid_ratio"}
    assert audit_log.get(event_type="generation.checkpoint_served").payload_data["overridden"] is True


def test_a_training_run_promotes_only_a_passing_checkpoint_that_beats_the_serving_one():
    serving = _measured("gan", PASSING["gan"])
    checkpoint_promote(checkpoint=serving, by="admin")

    better = _measured("gan", PASSING["gan"] | {"digit_fid_ratio": 1.2})
    worse = _measured("gan", PASSING["gan"] | {"digit_fid_ratio": 1.6})
    failing = _measured("gan", FAILING["gan"] | {"digit_fid_ratio": 0.5})
    other_classifier = _measured("gan", PASSING["gan"] | {"digit_fid_ratio": 1.1, "classifier_sha256": "b" * 64})

    assert checkpoint_beats(better, serving)
    assert not checkpoint_beats(worse, serving)
    assert not checkpoint_beats(failing, serving)
    assert not checkpoint_beats(other_classifier, serving)
    assert checkpoint_beats(better, None)


def test_figures_read_in_words_and_rounded():
    with translation.override("en"):
        rows = dict(figures_readable({"digit_fid_ratio": 1.4012345678901234, "conditional_accuracy": 0.97512345}))

    assert rows == {
        "digit-FID as a multiple of the floor (lower is better)": "1.40×",
        "digits read as the digit asked for": "97.5%",
    }
    assert figure_format("test_nats", 89.123456789) == "89.1"


def _serve(client, checkpoint, **fields):  # type: ignore[no-untyped-def]
    data = {"action": "activate", "_selected_action": [checkpoint.pk], **fields}
    return client.post("/admin/generation/checkpoint/", data, follow=True, HTTP_ACCEPT_LANGUAGE="en")


def test_serving_from_the_admin_shows_what_changes_then_serves_under_the_chosen_record(client_for, audit_log):
    serving = _measured("vae", {"test_nats": 95.0})
    checkpoint_promote(checkpoint=serving, by="admin")
    new = _measured("vae", PASSING["vae"])
    client = client_for(Role.OPERATOR)

    page = _serve(client, new).content.decode()
    done = _serve(client, new, record=new.model_record_id)

    assert "What this changes for end users" in page and f"instead of {serving.sha256[:12]}" in page
    assert "test −ELBO" in page and "95.0" in page and "89.5" in page
    assert 'name="reason"' not in page  # it passed: no override
    new.refresh_from_db()
    serving.refresh_from_db()
    assert done.status_code == 200 and new.is_active and not serving.is_active
    assert audit_log.filter(event_type="generation.checkpoint_served", checkpoint_sha256=new.sha256).exists()


def test_the_admin_serves_a_failing_checkpoint_only_with_a_written_reason(client_for, audit_log):
    checkpoint = _measured("lm", FAILING["lm"])
    client = client_for(Role.OPERATOR)

    page = _serve(client, checkpoint).content.decode()
    refused = _serve(client, checkpoint, record=checkpoint.model_record_id, reason="").content.decode()
    checkpoint.refresh_from_db()
    assert not checkpoint.is_active
    assert "whole pieces written from a tune&#x27;s name alone" in page and 'name="reason"' in page
    assert "write why it should serve anyway" in refused

    _serve(client, checkpoint, record=checkpoint.model_record_id, reason="Needed for a demonstration today")

    checkpoint.refresh_from_db()
    assert checkpoint.is_active and checkpoint.gate_override_reason == "Needed for a demonstration today"
    assert audit_log.filter(event_type="generation.quality_gate_overridden").count() == 1


def test_the_checkpoint_page_shows_figures_in_words_not_raw_keys(client_for):
    checkpoint = _measured("gan", FAILING["gan"] | {"digit_fid": 1833.123456789, "digit_fid_floor": 1.7456})
    client = client_for(Role.OPERATOR)

    page = client.get(
        f"/admin/generation/checkpoint/{checkpoint.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert "digit-FID against the test digits" in page and "1,833.12" in page
    assert "1833.123456789" not in page
    assert "✘" in page
