"""The TC260-003 Appendix A taxonomy is loaded by migration with stable codes and Chinese names."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from filing.models import Risk, RiskCategory
from filing.safety.seed import risk_taxonomy_data

pytestmark = pytest.mark.django_db


def test_five_categories_and_thirty_one_risks_with_per_category_counts():
    assert list(RiskCategory.objects.values_list("code", flat=True)) == ["A.1", "A.2", "A.3", "A.4", "A.5"]
    counts = {c.code: c.risks.count() for c in RiskCategory.objects.all()}
    assert counts == {"A.1": 8, "A.2": 9, "A.3": 5, "A.4": 7, "A.5": 2}
    assert Risk.objects.count() == 31
    # A.1 + A.2 = 17, the unit TC260-003 §8.1 and §8.3 count in.
    assert Risk.objects.filter(category__code__in=["A.1", "A.2"]).count() == 17


def test_codes_are_stable_and_nested_under_their_category():
    for risk in Risk.objects.select_related("category"):
        assert re.fullmatch(r"A\.[1-5]\.\d", risk.code)
        assert risk.code.startswith(risk.category.code + ".")
    assert Risk.objects.get(code="A.1.6").name_zh == "宣扬暴力、淫秽色情"
    assert Risk.objects.get(code="A.2.9").name_zh == "其他方面歧视内容"
    assert Risk.objects.get(code="A.4.5").name_zh == "侵害他人隐私权"
    assert RiskCategory.objects.get(code="A.3").name_zh == "商业违法违规"


def test_database_matches_the_shipped_data_file():
    shipped = {r["code"]: r["name_zh"] for c in risk_taxonomy_data()["categories"] for r in c["risks"]}
    assert dict(Risk.objects.values_list("code", "name_zh")) == shipped


def test_name_follows_the_active_language():
    risk = Risk.objects.get(code="A.1.4")
    with translation.override("zh-hans"):
        assert risk.name == "宣扬恐怖主义、极端主义"
    with translation.override("en"):
        assert risk.name == "Promoting terrorism or extremism"


def test_taxonomy_is_read_only_in_the_admin(admin_client):
    assert admin_client.get("/admin/filing/risk/").status_code == 200
    assert admin_client.get("/admin/filing/riskcategory/A.1/change/").status_code == 200
    assert admin_client.get("/admin/filing/risk/add/").status_code == 403
