"""The classifier layer of moderation: the serving classifier scores each text, thresholds from the configuration in
force decide, a new checkpoint or configuration is picked up without a restart, and moderation fails closed only
when the keyword layer cannot decide."""

from __future__ import annotations

import logging

import pytest

from filing.models import Risk
from filing.safety.services import safety_threshold_set
from generation.checkpoints import checkpoints_bundled_register
from generation.moderation import (
    ClassifierModerator,
    ClassifierUnavailable,
    CompositeModerator,
    Decision,
    Direction,
    KeywordModerator,
    ModerationUnavailable,
    default_moderator,
    default_moderator_set,
    moderate_input,
)
from generation.moderation.classifier import label_risks
from tests.generation.factories import checkpoint_tiny, model_record_for

pytestmark = pytest.mark.django_db

# Written for these tests: plainly offensive remarks about a region and about women, with no keyword of any library.
OFFENSIVE = "河南人都是骗子和小偷，没一个好东西"
PLAIN = "今天下午我们去公园散步，看见湖边的柳树发芽了"


@pytest.fixture(autouse=True)
def fresh_default_moderator():
    default_moderator_set(None)
    yield
    default_moderator_set(None)


@pytest.fixture
def bundled_classifier():
    """The classifier bundled in the repository, registered and serving as on a fresh install."""
    checkpoints_bundled_register(model_records={"classifier": model_record_for("classifier")})
    from generation.checkpoints import checkpoint_serving

    serving = checkpoint_serving("classifier")
    assert serving is not None and serving.origin == "bundled"
    return serving


def test_every_label_risk_is_a_discrimination_risk_of_the_catalogue():
    codes = {code for codes in label_risks().values() for code in codes}
    assert codes and set(Risk.objects.filter(code__in=codes).values_list("code", flat=True)) == codes
    assert all(code.startswith("A.2.") for code in codes)


def test_the_bundled_classifier_refuses_an_offensive_text_and_names_its_version_and_score(bundled_classifier):
    moderator = ClassifierModerator()

    refused = moderator.moderate(OFFENSIVE, direction=Direction.INPUT)
    allowed = moderator.moderate(PLAIN, direction=Direction.INPUT)

    assert refused.decision == Decision.BLOCK and refused.risk_codes == label_risks()["offensive"]
    assert {s.model for s in refused.scores} == {bundled_classifier.sha256[:12]}
    assert all(s.score >= 0.5 and s.action == "block" and s.crossed for s in refused.scores)
    assert allowed.decision == Decision.ALLOW and allowed.risk_codes == ()
    assert allowed.scores and not any(s.crossed for s in allowed.scores)
    assert refused.moderator == "classifier" and refused.layer_decision("classifier") == Decision.BLOCK


def test_thresholds_come_from_the_configuration_in_force(bundled_classifier):
    moderator = ClassifierModerator(check_seconds=0)
    score = moderator.moderate(OFFENSIVE, direction=Direction.INPUT).scores[0].score

    # Refuse only above this text's score; send it for review from just below it.
    safety_threshold_set(key="classifier_block_score_min", value="1", actor="test")
    flag_at = round(max(score - 0.01, 0), 4)
    safety_threshold_set(key="classifier_flag_score_min", value=str(flag_at), actor="test")
    flagged = moderator.moderate(OFFENSIVE, direction=Direction.OUTPUT)

    assert flagged.decision == Decision.FLAG
    assert {(s.action, s.threshold) for s in flagged.scores} == {("flag", flag_at)}


def test_a_new_serving_checkpoint_is_picked_up_without_a_restart(bundled_classifier):
    moderator = ClassifierModerator(check_seconds=0)
    first = moderator.moderate(PLAIN, direction=Direction.INPUT)

    other = checkpoint_tiny("classifier", seed=3)  # served by the test suite's override of the gate
    second = moderator.moderate(PLAIN, direction=Direction.INPUT)

    assert first.scores[0].model == bundled_classifier.sha256[:12]
    assert second.scores[0].model == other.sha256[:12]


def test_a_call_between_checks_asks_the_database_nothing(bundled_classifier, django_assert_num_queries):
    moderator = ClassifierModerator(check_seconds=3600)
    moderator.moderate(PLAIN, direction=Direction.INPUT)  # loads

    with django_assert_num_queries(0):
        moderator.moderate(OFFENSIVE, direction=Direction.INPUT)


def test_without_a_serving_classifier_the_layer_is_unavailable():
    with pytest.raises(ClassifierUnavailable, match="no classifier checkpoint serves"):
        ClassifierModerator().moderate(PLAIN, direction=Direction.INPUT)


def test_the_default_moderator_runs_both_layers(bundled_classifier):
    verdict = moderate_input(OFFENSIVE)

    assert isinstance(default_moderator(), CompositeModerator)
    assert verdict.blocked and verdict.layer_decision("keyword") == Decision.ALLOW
    assert verdict.layer_decision("classifier") == Decision.BLOCK
    stored = verdict.as_dict()
    assert stored["layers"] == {"keyword": "allow", "classifier": "block"}
    assert stored["scores"][0]["model"] == bundled_classifier.sha256[:12]


def test_without_a_classifier_the_keyword_layer_decides_alone_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="generation.moderation.classifier"):
        verdict = moderate_input(OFFENSIVE)

    assert verdict.decision == Decision.ALLOW and verdict.moderator == "keyword"
    assert verdict.layer_decision("classifier") is None and verdict.scores == ()
    assert "moderation.classifier_unavailable" in caplog.text


def test_moderation_fails_closed_when_neither_layer_loads():
    def broken() -> int:
        raise RuntimeError("database down")

    moderator = CompositeModerator(
        [KeywordModerator(check_seconds=0, version_loader=broken), ClassifierModerator(check_seconds=0)],
        optional=("classifier",),
    )
    with pytest.raises(ModerationUnavailable):
        moderator.moderate(PLAIN, direction=Direction.INPUT)


def test_the_keyword_layer_must_load_even_when_the_classifier_does(bundled_classifier):
    def broken() -> int:
        raise RuntimeError("database down")

    moderator = CompositeModerator(
        [KeywordModerator(check_seconds=0, version_loader=broken), ClassifierModerator(check_seconds=0)],
        optional=("classifier",),
    )
    with pytest.raises(ModerationUnavailable):
        moderator.moderate(PLAIN, direction=Direction.INPUT)
