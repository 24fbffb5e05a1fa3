"""The filing's admin in a real browser at a 1366 px laptop width: the home page says what each service still
lacks and where to fix it, the service page shows its readiness checklist, and list columns and inlines give
every column room for at least two characters a line (Chinese text wrapping one character a line is unreadable).
Screenshots of the admin home and of a service's readiness."""

from __future__ import annotations

from typing import Any

import pytest

from genai_platform.roles import Role

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-123"  # the password ``user_with_role`` gives
LAPTOP = {"width": 1366, "height": 900}

# Cells (headers and values) of lists and inlines narrower than two characters of their own font, with text.
_NARROW_CELLS = """
() => {
  const narrow = [];
  const cells = '#result_list th, #result_list td, .inline-group th, .inline-group td';
  for (const cell of document.querySelectorAll(cells)) {
    const text = cell.innerText.trim();
    if ([...text].length < 2 || cell.offsetParent === null || cell.classList.contains('original')) continue;
    const size = parseFloat(getComputedStyle(cell).fontSize);
    const inner = cell.clientWidth - parseFloat(getComputedStyle(cell).paddingLeft)
      - parseFloat(getComputedStyle(cell).paddingRight);
    if (inner < 2 * size) narrow.push(text.slice(0, 20) + ' (' + Math.round(inner) + ' px)');
  }
  return narrow;
}
"""


def _service(operator: Any) -> Any:
    from filing.services import provider_create, service_create

    provider = provider_create(
        legal_name="示例科技有限公司",
        uscc="91440300708461136T",
        legal_representative="张三",
        safety_lead="李四",
        registered_address="深圳市南山区",
        contact_phone="0755-00000000",
    )
    service = service_create(
        provider=provider, name="数字生成服务", version="1.0", main_function="image", form_web=True
    )
    from filing.models import ModelRecord

    ModelRecord.objects.create(service=service, name="手写数字生成对抗网络", net_type="gan", code="GAN1")
    return service


def _admin_login(page: Any, username: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/")


def test_admin_home_and_readiness_at_laptop_width(page, shoot, user_with_role):
    operator = user_with_role(Role.OPERATOR, "operator")
    service = _service(operator)
    page.set_viewport_size(LAPTOP)
    _admin_login(page, "operator")

    # The home page: the service with its open readiness items, each a link to where it is fixed.
    panel = page.locator("main, #content").first
    assert "数字生成服务" in panel.inner_text()
    fix_links = page.locator(f'#content a[href*="/admin/filing/service/{service.pk}/change/"]')
    assert fix_links.count() >= 1
    shoot(page, "admin-home")

    # The service's readiness checklist, with a link to fix each open item.
    page.goto(f"/admin/filing/service/{service.pk}/change/")
    assert page.get_by_text("备案准备情况").first.is_visible()
    assert page.locator(".readiness a[href]").count() >= 3 or page.locator("a[href*='#compute-group']").count() >= 1
    assert page.evaluate(_NARROW_CELLS) == []
    shoot(page, "admin-service-readiness")


# Inline tables wider than their box (the page would scroll sideways inside the form).
_OVERFLOWING_INLINES = """
() => [...document.querySelectorAll('.inline-group')]
  .filter(group => group.offsetParent !== null && group.scrollWidth > group.clientWidth + 1)
  .map(group => (group.id || group.className) + ': ' + group.scrollWidth + ' > ' + group.clientWidth)
"""


def test_the_self_assessment_clause_table_fits_a_laptop(page, shoot, user_with_role):
    from filing.services import assessment_create

    operator = user_with_role(Role.OPERATOR, "operator")
    assessment = assessment_create(service=_service(operator), title="2026 自评估", actor=operator)
    page.set_viewport_size(LAPTOP)
    _admin_login(page, "operator")
    page.goto(f"/admin/filing/selfassessment/{assessment.pk}/change/")
    assert page.locator(".inline-group").count() >= 1
    assert page.evaluate(_OVERFLOWING_INLINES) == []
    assert page.evaluate(_NARROW_CELLS) == []
    shoot(page, "admin-self-assessment")


@pytest.mark.parametrize("model", ["service", "modelrecord", "dataset", "keyword", "selfassessment", "complaint"])
def test_lists_give_every_column_room_at_laptop_width(page, user_with_role, model):
    operator = user_with_role(Role.OPERATOR, "operator")
    _service(operator)
    page.set_viewport_size(LAPTOP)
    _admin_login(page, "operator")
    response = page.goto(f"/admin/filing/{model}/")
    assert response is not None and response.status == 200
    assert page.evaluate(_NARROW_CELLS) == []
