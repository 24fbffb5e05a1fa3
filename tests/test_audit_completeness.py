"""Every state change a user or an operator makes writes an audit record (issue 23).

``ACTIONS`` performs each action for real, through the page, the admin or the service a worker or command calls,
and the test reads the log for the record it must have written. ``WRITTEN_ELSEWHERE`` names, for every other event
type of the catalogue, the test module that checks it is written. A catalogue entry in neither fails
``test_every_event_type_is_checked_somewhere``: a new event type, or a new action, comes with its check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from audit.catalogue import EVENT_TYPES
from genai_platform.roles import Role

pytestmark = pytest.mark.django_db

TESTS = Path(__file__).resolve().parent

# Event types this module does not perform, and the test module that checks each is written.
WRITTEN_ELSEWHERE: dict[str, str] = {
    "generation.requested": "generation/test_jobs.py",
    "generation.refused": "generation/test_pipeline.py",
    "generation.succeeded": "generation/test_pipeline.py",
    "generation.output_blocked": "generation/test_pipeline.py",
    "generation.failed": "audit/test_services.py",
    "generation.output_downloaded": "generation/test_unlabelled_delivery.py",
    "generation.checkpoint_served": "generation/test_quality_gate.py",
    "generation.quality_gate_overridden": "generation/test_quality_gate.py",
    "filing.exported": "filing/test_package.py",
    "filing.model_record_approved": "filing/test_four_eyes.py",
    "filing.assessment_finalised": "filing/test_four_eyes.py",
    "filing.service_submitted": "filing/test_four_eyes.py",
    "filing.four_eyes_refused": "filing/test_four_eyes.py",
    "auth.login": "test_auth_audit.py",
    "auth.login_failed": "test_auth_audit.py",
    "auth.logout": "test_auth_audit.py",
    "auth.locked_out": "test_login_lockout.py",
    "auth.lockout_cleared": "test_login_lockout.py",
    "user.token_created": "generation/web/test_account_security.py",
    "user.token_revoked": "generation/web/test_account_security.py",
    "user.signed_up": "generation/web/test_account_security.py",
    "user.password_changed": "generation/web/test_account_security.py",
    "user.password_reset": "generation/web/test_account_security.py",
    "audit.seal_refused": "audit/test_tags.py",
    "user.suspended": "generation/test_enforcement.py",
    "user.reinstated": "generation/test_enforcement.py",
    "user.terms_accepted": "generation/web/test_terms.py",
    "user.phone_code_sent": "generation/test_real_name.py",
    "user.phone_verified": "generation/test_real_name.py",
    "user.minor_mode": "generation/test_minor_mode.py",
    "user.guardian_consented": "generation/test_minor_mode.py",
    "user.closure_requested": "generation/test_account_closure.py",
    "user.closure_cancelled": "generation/test_account_closure.py",
    "user.closed": "generation/test_account_closure.py",
    "label.verified": "audit/test_services.py",
    "complaint.received": "generation/web/test_complaints.py",
    "complaint.updated": "filing/test_assessment_complaints.py",
    "complaint.resolved": "filing/test_assessment_complaints.py",
    "incident.generation_stopped": "generation/test_public_service.py",
    "incident.generation_resumed": "generation/test_public_service.py",
    "incident.content_removed": "generation/test_public_service.py",
    "audit.exported": "audit/test_exports.py",
    "audit.purged": "audit/test_retention.py",
    "audit.number_void": "audit/test_numbering.py",
    "audit.verified": "audit/test_verify.py",
    "audit.legal_hold_set": "audit/test_retention.py",
    "audit.legal_hold_released": "audit/test_retention.py",
}


# ------------------------------------------------------------------------------
# Helpers: signed-in clients and admin forms posted as a browser would
# ------------------------------------------------------------------------------
def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _admin_form_post(client: Client, url: str, **changes: Any) -> Any:
    """Post the admin change form at ``url`` with its current values and ``changes``; inline rows are left alone."""
    from django.forms import MultiWidget

    page = client.get(url)
    assert page.status_code == 200, url
    form = page.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = changes.pop(name) if name in changes else form[name].value()
        if isinstance(field.widget, MultiWidget):
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif value is not None:
            data[name] = str(value)
    for inline in page.context.get("inline_admin_formsets", []):
        prefix = inline.formset.prefix
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    assert not changes, f"not fields of the form: {sorted(changes)}"
    response = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response


@pytest.fixture
def operator(user_with_role):  # type: ignore[no-untyped-def]
    user = user_with_role(Role.OPERATOR, "operator")
    return SimpleNamespace(user=user, client=_signed_in(user))


@pytest.fixture
def superuser(django_user_model):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_superuser(username="root", password="pw-for-tests-123")
    return SimpleNamespace(user=user, client=_signed_in(user))


@pytest.fixture
def enduser(user_with_role):  # type: ignore[no-untyped-def]
    user = user_with_role(Role.END_USER, "enduser")
    return SimpleNamespace(user=user, client=_signed_in(user))


# ------------------------------------------------------------------------------
# The actions: each returns what the record must say (its payload keys, subject and actor)
# ------------------------------------------------------------------------------
def consent_training_opt_in_and_out(ctx: Any) -> list[dict[str, Any]]:
    client = ctx.enduser.client
    client.post("/account/", {"action": "settings", "inputs_for_training": "on"})
    client.post("/account/", {"action": "settings"})
    actor = ctx.enduser.user.username
    return [
        {"consent": "inputs_for_training", "given": True, "_actor": actor},
        {"consent": "inputs_for_training", "given": False, "previous": True, "_actor": actor},
    ]


def consent_labelling_obligation(ctx: Any) -> list[dict[str, Any]]:
    from tests.generation.factories import checkpoint_tiny, service_serving

    checkpoint_tiny("gan")
    service = service_serving()
    service.unlabelled_delivery = True
    service.labelling_obligation_version = "2026-1"
    service.save()
    client = ctx.enduser.client
    client.post("/account/", {"action": "labelling", "accept": "1"})
    client.post("/account/", {"action": "labelling", "accept": "0"})
    actor = ctx.enduser.user.username
    return [
        {"consent": "labelling_obligation", "given": True, "version": "2026-1", "_actor": actor},
        {"consent": "labelling_obligation", "given": False, "previous": True, "_actor": actor},
    ]


def history_deleted_by_the_user(ctx: Any) -> list[dict[str, Any]]:
    from generation.models import Job
    from tests.generation.api.helpers import job_make, output_make

    user = ctx.enduser.user
    for _ in range(2):
        output_make(job_make(user))
    job_make(user, status=Job.Status.RUNNING)
    response = ctx.enduser.client.post("/account/", {"action": "delete_history", "confirm": "on"})
    assert response.status_code == 302
    assert Job.objects.filter(user=user).count() == 1
    return [{"jobs_deleted": 2, "outputs_deleted": 2, "kept_running": 1, "_actor": user.username}]


def training_started_in_the_admin(ctx: Any) -> list[dict[str, Any]]:
    response = ctx.operator.client.post(
        "/admin/generation/trainingrun/add/", {"kind": "vae", "seed": "3", "epochs": "2", "minutes": ""}
    )
    assert response.status_code == 302
    return [{"kind": "vae", "origin": "admin", "seed": 3, "epochs": 2, "_actor": "operator"}]


def training_started_from_the_terminal(ctx: Any) -> list[dict[str, Any]]:
    from generation.training_runs import training_run_create

    # What ``manage.py train`` does before it trains.
    training_run_create(kind="gan", epochs=1, enqueue=False, origin="terminal")
    return [{"kind": "gan", "origin": "terminal", "_actor": "system:terminal"}]


def training_cancelled_in_the_admin(ctx: Any) -> list[dict[str, Any]]:
    from generation.models import TrainingRun
    from generation.training_runs import training_run_create

    queued = training_run_create(kind="gan", epochs=1, enqueue=False)
    running = training_run_create(kind="vae", epochs=1, enqueue=False)
    TrainingRun.objects.filter(pk=running.pk).update(status=TrainingRun.Status.RUNNING, worker="w1")
    ctx.operator.client.post(
        "/admin/generation/trainingrun/", {"action": "cancel", "_selected_action": [queued.pk, running.pk]}
    )
    queued.refresh_from_db()
    running.refresh_from_db()
    assert queued.status == TrainingRun.Status.CANCELLED and running.cancel_requested
    return [
        {"run_id": queued.pk, "status": "queued", "_actor": "operator"},
        {"run_id": running.pk, "status": "running", "_actor": "operator"},
    ]


def training_interrupted_when_its_worker_was_lost(ctx: Any) -> list[dict[str, Any]]:
    from generation.models import TrainingRun
    from generation.tasks import _training_runs_orphaned
    from generation.training_runs import training_run_create

    run = training_run_create(kind="gan", epochs=1, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING, worker="w9@host")
    # The worker_ready handler of a worker that comes back after being killed.
    _training_runs_orphaned(sender=SimpleNamespace(hostname="w9@host"))
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.INTERRUPTED
    return [{"run_id": run.pk, "how": "worker_lost", "checkpoint_kept": False}]


def training_interrupted_by_ctrl_c(ctx: Any) -> list[dict[str, Any]]:
    from generation.ml.nets.vae import VaeConfig
    from generation.models import TrainingRun
    from generation.training_runs import training_run_create, training_run_execute
    from tests.generation.factories import training_data_exempt

    training_data_exempt("digits8")
    run = training_run_create(kind="vae", data="digits8", epochs=3, config=VaeConfig.tiny().to_dict(), enqueue=False)
    pressed = threading.Event()
    # ``manage.py train`` passes its Ctrl-C this way; here it is pressed after the first epoch.
    finished = training_run_execute(
        run_id=run.pk, worker="terminal", on_epoch=lambda report: pressed.set(), interrupted=pressed.is_set
    )
    assert finished is not None and finished.status == TrainingRun.Status.INTERRUPTED, finished and finished.error
    assert finished.checkpoints.count() == 1
    return [{"run_id": run.pk, "how": "ctrl_c", "checkpoint_kept": True}]


def training_abandoned_by_a_second_ctrl_c(ctx: Any) -> list[dict[str, Any]]:
    from generation.models import TrainingRun
    from generation.training_runs import training_run_abandon, training_run_create

    run = training_run_create(kind="lm", epochs=1, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING, worker="terminal")
    training_run_abandon(run_id=run.pk)
    return [{"run_id": run.pk, "how": "ctrl_c_twice", "checkpoint_kept": False}]


def user_flags_and_roles_changed_in_the_admin(ctx: Any) -> list[dict[str, Any]]:
    user = ctx.enduser.user
    operator_group = Group.objects.get(name=Role.OPERATOR.value)
    end_user_group = Group.objects.get(name=Role.END_USER.value)
    url = f"/admin/genai_platform/user/{user.pk}/change/"
    _admin_form_post(ctx.superuser.client, url, is_staff=True, groups=[operator_group.pk, end_user_group.pk])
    _admin_form_post(ctx.superuser.client, url, is_active=False)
    user.refresh_from_db()
    assert user.is_staff and not user.is_active
    return [
        {
            "action": "changed",
            "changes": {"groups": [["end_user"], ["end_user", "operator"]], "is_staff": [False, True]},
            "_actor": "root",
            "_subject": str(user.pk),
        },
        {"action": "changed", "changes": {"is_active": [True, False]}, "_actor": "root", "_subject": str(user.pk)},
    ]


def user_created_and_deleted_in_the_admin(ctx: Any) -> list[dict[str, Any]]:
    from genai_platform.models import User

    client = ctx.superuser.client
    response = client.post(
        "/admin/genai_platform/user/add/",
        {
            "username": "newcomer",
            "password1": "Long-pass-2468",
            "password2": "Long-pass-2468",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    client.post(f"/admin/genai_platform/user/{newcomer.pk}/delete/", {"post": "yes"})
    assert not User.objects.filter(username="newcomer").exists()
    return [
        {"action": "created", "_subject": str(newcomer.pk)},
        {"action": "deleted", "_subject": str(newcomer.pk)},
    ]


def role_permissions_changed_in_the_admin(ctx: Any) -> list[dict[str, Any]]:
    auditor = Group.objects.get(name=Role.AUDITOR.value)
    extra = Permission.objects.get(content_type__app_label="filing", codename="view_complaint")
    permissions = [*auditor.permissions.values_list("pk", flat=True), extra.pk]
    _admin_form_post(ctx.superuser.client, f"/admin/auth/group/{auditor.pk}/change/", permissions=permissions)
    assert auditor.permissions.filter(pk=extra.pk).exists()
    return [{"action": "changed", "_subject": str(auditor.pk), "_actor": "root"}]


def roles_given_and_taken_in_code(ctx: Any) -> list[dict[str, Any]]:
    from generation.access import user_role_add, user_role_remove

    user = ctx.enduser.user
    user_role_add(user=user, role=Role.OPERATOR, actor=ctx.superuser.user)
    user_role_remove(user=user, role=Role.OPERATOR)
    return [
        {
            "action": "changed",
            "changes": {"groups": [["end_user"], ["end_user", "operator"]], "is_staff": [False, True]},
            "_actor": "root",
            "_subject": str(user.pk),
        },
        {
            "action": "changed",
            "changes": {"groups": [["end_user", "operator"], ["end_user"]]},
            "_actor": "system:platform",
            "_subject": str(user.pk),
        },
    ]


def superuser_created_on_the_command_line(ctx: Any) -> list[dict[str, Any]]:
    from django.core.management import call_command

    from genai_platform.models import User

    call_command("createsuperuser", "--noinput", username="night-admin", email="night@example.com", verbosity=0)
    user = User.objects.get(username="night-admin")
    return [
        {
            "action": "created",
            "changes": {"is_superuser": [None, True], "is_staff": [None, True]},
            "_actor": "system:createsuperuser",
            "_subject": str(user.pk),
        }
    ]


def service_testers_changed_in_the_admin(ctx: Any) -> list[dict[str, Any]]:
    from tests.generation.factories import service_serving

    service = service_serving()
    tester = ctx.enduser.user
    _admin_form_post(ctx.operator.client, f"/admin/filing/service/{service.pk}/change/", testers=[tester.pk])
    assert list(service.testers.all()) == [tester]
    return [{"action": "changed", "changes": {"testers": [[], ["enduser"]]}, "_actor": "operator"}]


ACTIONS: list[tuple[Callable[[Any], list[dict[str, Any]]], str]] = [
    (consent_training_opt_in_and_out, "user.consent_changed"),
    (consent_labelling_obligation, "user.consent_changed"),
    (history_deleted_by_the_user, "user.history_deleted"),
    (training_started_in_the_admin, "generation.training_started"),
    (training_started_from_the_terminal, "generation.training_started"),
    (training_cancelled_in_the_admin, "generation.training_cancelled"),
    (training_interrupted_when_its_worker_was_lost, "generation.training_interrupted"),
    (training_interrupted_by_ctrl_c, "generation.training_interrupted"),
    (training_abandoned_by_a_second_ctrl_c, "generation.training_interrupted"),
    (user_flags_and_roles_changed_in_the_admin, "user.access_changed"),
    (user_created_and_deleted_in_the_admin, "user.access_changed"),
    (role_permissions_changed_in_the_admin, "user.role_changed"),
    (roles_given_and_taken_in_code, "user.access_changed"),
    (superuser_created_on_the_command_line, "user.access_changed"),
    (service_testers_changed_in_the_admin, "filing.changed"),
]


def _matches(record: Any, expected: dict[str, Any]) -> bool:
    payload = record.payload_data
    for key, value in expected.items():
        if key == "_actor":
            if record.actor_username != value:
                return False
        elif key == "_subject":
            if record.subject_id != value:
                return False
        elif key == "changes":
            if any(payload.get("changes", {}).get(name) != change for name, change in value.items()):
                return False
        elif payload.get(key) != value:
            return False
    return True


@pytest.mark.parametrize(("action", "event_type"), ACTIONS, ids=[action.__name__ for action, _ in ACTIONS])
def test_the_action_writes_its_audit_record(action, event_type, audit_log, operator, superuser, enduser) -> None:
    ctx = SimpleNamespace(operator=operator, superuser=superuser, enduser=enduser)
    before = set(audit_log.filter(event_type=event_type).values_list("seq", flat=True))

    expected = action(ctx)

    written = [r for r in audit_log.filter(event_type=event_type).order_by("seq") if r.seq not in before]
    assert expected, "an action names the records it must write"
    for wanted in expected:
        assert any(_matches(record, wanted) for record in written), (wanted, [r.payload for r in written])


def test_every_event_type_is_checked_somewhere() -> None:
    """A catalogue entry that neither ACTIONS performs nor WRITTEN_ELSEWHERE names fails here."""
    performed = {event_type for _, event_type in ACTIONS}
    missing = set(EVENT_TYPES) - performed - set(WRITTEN_ELSEWHERE)
    assert not missing, f"event types no test checks: {sorted(missing)}"
    stale = (performed | set(WRITTEN_ELSEWHERE)) - set(EVENT_TYPES)
    assert not stale, f"not in the catalogue: {sorted(stale)}"
    for event_type, module in WRITTEN_ELSEWHERE.items():
        path = TESTS / module
        assert path.exists(), (event_type, module)
        text = path.read_text()
        named = event_type in text or (event_type == "audit.number_void" and "VOID_EVENT_TYPE" in text)
        assert named, f"{module} does not check {event_type}"
