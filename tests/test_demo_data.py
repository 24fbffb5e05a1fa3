import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audit.models import LogEntry
from filing.models import Provider, Service
from genai_platform.roles import Role, user_has_role

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def test_demo_data_creates_a_provider_a_service_and_one_user_per_role(capsys):
    call_command("demo_data")
    printed = capsys.readouterr().out

    users = {u.username: u for u in get_user_model().objects.all()}
    assert users["admin"].is_superuser
    assert user_has_role(users["operator"], Role.OPERATOR) and users["operator"].is_staff
    # A second operator signs off what the first changed (four eyes).
    assert user_has_role(users["reviewer"], Role.OPERATOR) and users["reviewer"].is_staff
    assert user_has_role(users["auditor"], Role.AUDITOR) and not user_has_role(users["auditor"], Role.OPERATOR)
    assert user_has_role(users["enduser"], Role.END_USER) and not users["enduser"].is_staff
    provider = Provider.objects.get()
    service = Service.objects.get()
    assert service.provider == provider and service.may_serve
    assert {r.code for r in service.model_records.filter(approval="approved")} == {"DGAN", "DVAE", "DSCI", "DCLF"}
    # Each bundled net serves, and the command says so.
    for kind in ("gan", "vae", "lm", "classifier"):
        assert re.search(rf"Bundled {kind} net [0-9a-f]{{12}}: serving\.", printed), printed
    # Each password is printed once and is the one that works.
    password_lines = [line for line in printed.splitlines() if line.startswith("  ")]
    assert len(password_lines) == 5
    for line in password_lines:
        username, *_, password = line.split()
        assert users[username].check_password(password)
    # Every account it made has its access record, the superuser's included.
    created = LogEntry.objects.filter(event_type="user.access_changed", actor_username="system:demo_data")
    made = {r.subject_id for r in created if r.payload_data["action"] == "created"}
    assert made == {str(u.pk) for u in users.values()}


def test_demo_data_is_idempotent_and_prints_no_password_the_second_time(capsys):
    call_command("demo_data")
    capsys.readouterr()

    call_command("demo_data")

    assert "already present" in capsys.readouterr().out
    assert get_user_model().objects.count() == 5
    assert Provider.objects.count() == 1
