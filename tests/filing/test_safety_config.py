"""Thresholds are versioned configuration with their source clause; tests read them from configuration."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from filing.models import SafetyConfigVersion, SafetyThreshold
from filing.safety.seed import safety_thresholds_data
from filing.safety.selectors import THRESHOLD_KEYS, safety_config
from filing.safety.services import safety_threshold_set

pytestmark = pytest.mark.django_db


def test_seeded_configuration_equals_the_shipped_file_and_names_every_clause():
    config = safety_config()
    shipped = {row["key"]: row for row in safety_thresholds_data()["thresholds"]}
    assert set(shipped) == set(THRESHOLD_KEYS)
    for key, row in shipped.items():
        assert Decimal(getattr(config, key)) == Decimal(row["value"])
        assert config.clauses[key] == row["clause"]
        assert config.clauses[key].startswith("TC260-003 §")
    assert isinstance(config.keyword_library_min_total, int)
    assert isinstance(config.assessment_refuse_rate_min, Decimal)


def test_per_risk_keyword_minimum_follows_configuration():
    config = safety_config()
    assert config.keyword_minimum_for("A.1.3") == config.keyword_min_per_a1_risk
    assert config.keyword_minimum_for("A.2.9") == config.keyword_min_per_a2_risk
    assert config.keyword_minimum_for("A.4.1") == 0


def test_a_change_makes_a_new_version_and_keeps_the_old_one():
    before = safety_config()
    version = safety_threshold_set(
        key="suspension_refusals_per_day", value=before.suspension_refusals_per_day + 2, actor="op"
    )
    after = safety_config()
    assert after.version == version.number == before.version + 1
    assert after.suspension_refusals_per_day == before.suspension_refusals_per_day + 2
    assert after.suspension_consecutive_refusals == before.suspension_consecutive_refusals
    old = SafetyThreshold.objects.get(version__number=before.version, key="suspension_refusals_per_day")
    assert old.value == before.suspension_refusals_per_day
    assert SafetyConfigVersion.objects.get(number=after.version).created_by == "op"


@pytest.mark.parametrize(
    ("key", "value"),
    [("assessment_refuse_rate_min", "1.5"), ("keyword_library_min_total", "-1"), ("keyword_update_max_days", "6.5")],
)
def test_invalid_values_are_refused_with_a_reason(key, value):
    before = safety_config().version
    with pytest.raises(ValidationError):
        safety_threshold_set(key=key, value=value, actor="op")
    assert safety_config().version == before


def test_admin_shows_a_refused_value_on_its_field_and_saves_nothing(admin_client):
    config = safety_config()
    row = SafetyThreshold.objects.get(version__number=config.version, key="assessment_generated_pass_rate_min")

    response = admin_client.post(
        f"/admin/filing/safetythreshold/{row.pk}/change/", {"value": "5", "note": ""}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 200, "the form again, not a redirect to the list"
    assert "A ratio lies between 0 and 1" in str(response.context["adminform"].form.errors["value"])
    assert not list(response.context["messages"]), "no message that it was saved"
    assert safety_config().version == config.version
    assert safety_config().assessment_generated_pass_rate_min == row.value


def test_admin_lists_current_values_with_clauses_and_edit_creates_version(admin_client):
    config = safety_config()
    page = admin_client.get("/admin/filing/safetythreshold/")
    assert page.status_code == 200
    body = page.content.decode()
    assert config.clauses["keyword_library_min_total"] in body
    row = SafetyThreshold.objects.get(version__number=config.version, key="keyword_update_max_days")
    response = admin_client.post(
        f"/admin/filing/safetythreshold/{row.pk}/change/", {"value": "5", "note": "stricter weekly rule"}
    )
    assert response.status_code == 302
    assert safety_config().keyword_update_max_days == 5
    assert safety_config().version == config.version + 1
    # Old versions are history: shown, not editable.
    oldest = SafetyConfigVersion.objects.order_by("number").first()
    assert admin_client.get(f"/admin/filing/safetyconfigversion/{oldest.pk}/change/").status_code == 200
