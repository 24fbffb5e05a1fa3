import json

import pytest
from django.contrib.auth.models import Group

from genai_platform.roles import ROLE_PERMISSIONS, Role, roles_sync, user_has_role
from generation.access import user_role_add, user_role_remove

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


def test_roles_sync_restores_exactly_the_configured_permissions(audit_log):
    group = Group.objects.get(name=Role.OPERATOR)
    before = _codes(group)
    group.permissions.clear()

    roles_sync()

    assert _codes(group) == before
    # The change of what the role may do is on the record, named as the synchronisation's.
    (record,) = audit_log.filter(event_type="user.role_changed")
    assert record.actor_username == "system:roles_sync" and record.subject_id == str(group.pk)
    changes = json.loads(record.payload)["changes"]
    assert changes["permissions"][0] == [] and len(changes["permissions"][1]) == len(before)
    roles_sync()  # nothing changed: nothing recorded
    assert audit_log.filter(event_type="user.role_changed").count() == 1
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


def _access_records(audit_log, user):  # type: ignore[no-untyped-def]
    return [r.payload_data for r in audit_log.filter(event_type="user.access_changed", subject_id=str(user.pk))]


def test_giving_and_taking_a_role_in_code_is_one_access_record_each(django_user_model, audit_log):
    user = django_user_model.objects.create_user(username="coded", password="pw-for-tests-123")

    user_role_add(user=user, role=Role.OPERATOR)
    assert user_has_role(user, Role.OPERATOR)
    user_role_add(user=user, role=Role.OPERATOR)  # no change: no record
    user_role_remove(user=user, role=Role.OPERATOR)
    assert not user_has_role(user, Role.OPERATOR)

    assert _access_records(audit_log, user) == [
        {"action": "changed", "changes": {"groups": [[], ["operator"]], "is_staff": [False, True]}},
        {"action": "changed", "changes": {"groups": [["operator"], []]}},
    ]
    record = audit_log.filter(event_type="user.access_changed", subject_id=str(user.pk)).first()
    assert record.actor_username == "system:platform"


def test_a_role_given_in_the_admin_is_one_access_record(django_user_model, audit_log):
    from django.test import Client

    from tests.test_audit_completeness import _admin_form_post

    root = django_user_model.objects.create_superuser(username="root", password="pw-for-tests-123")
    user = django_user_model.objects.create_user(username="target", password="pw-for-tests-123")
    client = Client()
    client.force_login(root)

    auditor = Group.objects.get(name=Role.AUDITOR)
    _admin_form_post(client, f"/admin/genai_platform/user/{user.pk}/change/", groups=[auditor.pk])

    records = audit_log.filter(event_type="user.access_changed", subject_id=str(user.pk))
    assert [(r.actor_username, r.payload_data) for r in records] == [
        ("root", {"action": "changed", "changes": {"groups": [[], ["auditor"]]}})
    ]


def test_signing_up_records_the_end_user_role(django_user_model, audit_log):
    from datetime import date

    from generation.accounts import user_sign_up

    user = user_sign_up(
        user=django_user_model(username="newbie", email="newbie@example.com"),
        inputs_for_training=False,
        date_of_birth=date(1990, 1, 1),
    )

    records = audit_log.filter(event_type="user.access_changed", subject_id=str(user.pk))
    assert [(r.actor_username, r.payload_data) for r in records] == [
        ("newbie", {"action": "changed", "changes": {"groups": [[], ["end_user"]]}})
    ]


def test_the_migrate_that_installs_the_roles_records_no_change(audit_log):
    from types import SimpleNamespace

    from django.apps import apps

    from genai_platform.apps import ROLES_MIGRATION, _roles_sync_after_migrate

    group = Group.objects.get(name=Role.OPERATOR)
    platform = apps.get_app_config("genai_platform")
    installing = [(SimpleNamespace(app_label="genai_platform", name=ROLES_MIGRATION), False)]

    group.permissions.clear()  # the roles' migration saw only the permissions of the apps before it
    _roles_sync_after_migrate(platform, plan=installing)
    assert group.permissions.exists() and not audit_log.filter(event_type="user.role_changed").exists()

    group.permissions.clear()  # a later migrate that changes what a role may do is on the record
    _roles_sync_after_migrate(platform, plan=[])
    assert audit_log.filter(event_type="user.role_changed", actor_username="system:roles_sync").count() == 1
