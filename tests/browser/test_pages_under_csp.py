"""The operators', auditors' and developers' pages work under the Content-Security-Policy (issue 23).

The ``page`` fixture fails a test whose pages broke the policy (a blocked inline script or style, or a file from
another origin). These tests visit the pages the end-user journeys do not: the admin (lists, forms, the training
run with its sample pictures, the filing service), the live view of a training run, the audit pages and the API
docs, and check that what their scripts draw is there.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile

from genai_platform.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"  # the password ``user_with_role`` gives


def _admin_login(page: Any, username: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/admin/")


@pytest.fixture
def training_run(transactional_db) -> Any:
    from generation.models import TrainingEpoch, TrainingRun
    from tests.generation.api.helpers import png_bytes

    run = TrainingRun.objects.create(kind="gan", epochs=2, status=TrainingRun.Status.SUCCEEDED, progress=1.0)
    for epoch in (1, 2):
        TrainingEpoch.objects.create(
            run=run,
            epoch=epoch,
            seconds=1.5,
            losses={"generator": 1.0 / epoch, "discriminator": 0.5},
            metrics={"fid": 30.0 / epoch},
            samples=ContentFile(png_bytes(40 * epoch), name=f"run{run.pk}-epoch{epoch}.png"),
        )
    return run


def test_admin_pages_work_under_the_policy(page, live_server, user_with_role, training_run):
    user_with_role(Role.OPERATOR, "operator")
    _admin_login(page, "operator")
    for path in (
        "/admin/",
        "/admin/generation/trainingrun/",
        "/admin/generation/trainingrun/add/",
        "/admin/generation/checkpoint/",
        "/admin/filing/service/",
        "/admin/filing/service/add/",
        "/admin/filing/complaint/",
        "/admin/filing/dataset/",
    ):
        response = page.goto(path)
        assert response.status == 200, path
        assert page.locator("#content").count() == 1, path

    # The change page of a training run shows each epoch's samples through the operator-only view.
    page.goto(f"/admin/generation/trainingrun/{training_run.pk}/change/")
    pictures = page.locator("img.training-samples")
    assert pictures.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.training-samples')].every(i => i.complete && i.naturalWidth > 0)"
    )
    # The stylesheet replacing the inline style applies.
    assert pictures.first.evaluate("i => getComputedStyle(i).height") == "96px"

    # The admin's own scripts run: the two-box chooser of a service's testers is built by SelectFilter2.js.
    page.goto("/admin/filing/service/add/")
    page.wait_for_selector("#id_testers_from")

    # And the service list's select-all box ticks every row (actions.js).
    page.goto("/admin/filing/service/")
    if page.locator("#action-toggle").count():
        page.locator("#action-toggle").check()
        assert page.locator("input.action-select:checked").count() == page.locator("input.action-select").count()


def test_training_watch_draws_curves_and_samples_under_the_policy(page, user_with_role, training_run):
    user_with_role(Role.OPERATOR, "operator")
    _admin_login(page, "operator")
    page.goto(f"/ops/training/{training_run.pk}/")
    page.wait_for_selector("#charts svg")
    assert page.locator("#charts svg").count() >= 2
    page.wait_for_function(
        "() => { const imgs = document.querySelectorAll('#samples img');"
        " return imgs.length === 2 && [...imgs].every(i => i.complete && i.naturalWidth > 0); }"
    )
    assert page.locator("#samples").evaluate("e => getComputedStyle(e).display") == "flex"


def test_audit_pages_work_under_the_policy(page, user_with_role):
    user_with_role(Role.AUDITOR, "auditor")
    page.goto("/accounts/login/?next=/audit/")
    page.get_by_label("用户名").fill("auditor")
    page.get_by_label("密码").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/audit/")
    for path in ("/audit/", "/audit/dashboards/", "/audit/catalogue/", "/audit/exports/"):
        response = page.goto(path)
        assert response.status == 200 and page.url.endswith(path), path
    # The audit stylesheet, formerly an inline <style>, applies.
    page.goto("/audit/")
    assert page.locator("nav.audit a").first.evaluate("a => getComputedStyle(a).marginRight") == "16px"


def test_the_api_docs_render_under_the_policy(page):
    page.goto("/api/docs/")
    page.wait_for_selector("text=/api/v1/jobs/")
    assert page.locator(".swagger-ui .opblock").count() > 5


def test_a_superuser_grants_a_role_in_the_admin_and_the_log_says_so(page, django_user_model, user_with_role):
    from django.contrib.auth.models import Group

    from audit.models import LogEntry

    django_user_model.objects.create_superuser(username="root", password=PASSWORD)
    member = user_with_role(Role.END_USER, "member")
    _admin_login(page, "root")
    page.goto(f"/admin/auth/group/{Group.objects.get(name='auditor').pk}/change/")
    page.wait_for_selector("#id_permissions_from")

    page.goto(f"/admin/genai_platform/user/{member.pk}/change/")
    page.wait_for_selector("#id_groups_from")
    page.select_option("#id_groups_from", label="auditor")
    page.locator("#id_groups_add").click()
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/genai_platform/user/")

    record = LogEntry.objects.filter(event_type="user.access_changed").latest("seq")
    assert record.actor_username == "root" and record.subject_id == str(member.pk)
    assert record.payload_data["changes"] == {"groups": [["end_user"], ["auditor", "end_user"]]}
