import pytest
from django.contrib.auth.models import Group

from genai_platform.roles import ROLE_PERMISSIONS, Role, roles_sync, user_has_role

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def _codes(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_migrations_create_one_group_per_role():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_operator_holds_the_filing_permissions_and_auditor_none_of_them():
    operator = _codes(Group.objects.get(name=Role.OPERATOR))
    auditor = _codes(Group.objects.get(name=Role.AUDITOR))

    assert {"filing.add_provider", "filing.change_service", "genai_platform.send_heartbeat"} <= operator
    assert not {code for code in auditor if code.startswith("filing.")}


def test_roles_sync_restores_exactly_the_configured_permissions():
    group = Group.objects.get(name=Role.OPERATOR)
    before = _codes(group)
    group.permissions.clear()

    roles_sync()

    assert _codes(group) == before
    assert len(_codes(Group.objects.get(name=Role.END_USER))) == len(ROLE_PERMISSIONS[Role.END_USER]) == 0


def test_superuser_passes_every_role_and_a_plain_user_none(django_user_model, user_with_role):
    admin = django_user_model.objects.create_superuser(username="root", password="x-pw-123456")
    plain = user_with_role(None)

    assert all(user_has_role(admin, role) for role in Role)
    assert not any(user_has_role(plain, role) for role in Role)


def test_role_protected_view_redirects_anonymous_and_refuses_other_roles(client, client_for):
    assert client.get("/ops/heartbeat/").status_code == 302
    assert client_for(Role.END_USER).get("/ops/heartbeat/").status_code == 403
    assert client_for(Role.AUDITOR, "aud").get("/ops/heartbeat/").status_code == 403
    assert client_for(Role.OPERATOR, "op").get("/ops/heartbeat/").status_code == 200
