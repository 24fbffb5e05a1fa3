"""Load the data shipped in ``filing/data/`` (used by data migrations, so it takes a model registry)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.apps.registry import Apps

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@cache
def risk_taxonomy_data() -> dict[str, Any]:
    return json.loads((DATA_DIR / "risk_taxonomy.json").read_text(encoding="utf-8"))


@cache
def safety_thresholds_data() -> dict[str, Any]:
    return json.loads((DATA_DIR / "safety_thresholds.json").read_text(encoding="utf-8"))


def risk_taxonomy_load(*, apps: Apps, using: str = "default") -> None:
    """Create or update the 5 categories and 31 risks; codes never change, names may be corrected."""
    category_model = apps.get_model("filing", "RiskCategory")
    risk_model = apps.get_model("filing", "Risk")
    risk_position = 0
    for category_position, category in enumerate(risk_taxonomy_data()["categories"], start=1):
        category_row, _ = category_model.objects.using(using).update_or_create(
            code=category["code"],
            defaults={"name_zh": category["name_zh"], "name_en": category["name_en"], "position": category_position},
        )
        for risk in category["risks"]:
            risk_position += 1
            risk_model.objects.using(using).update_or_create(
                code=risk["code"],
                defaults={
                    "category": category_row,
                    "name_zh": risk["name_zh"],
                    "name_en": risk["name_en"],
                    "position": risk_position,
                },
            )


def safety_thresholds_load(*, apps: Apps, using: str = "default", note: str = "shipped defaults") -> None:
    """Create version 1 of the thresholds from the shipped file; a later version is never touched.

    If the shipped file gained keys since the current version was made, a new version adds them.
    """
    version_model = apps.get_model("filing", "SafetyConfigVersion")
    threshold_model = apps.get_model("filing", "SafetyThreshold")
    shipped = safety_thresholds_data()["thresholds"]
    current = version_model.objects.using(using).order_by("-number").first()
    existing: dict[str, Any] = {}
    if current is not None:
        existing = {t.key: t for t in threshold_model.objects.using(using).filter(version=current)}
        if all(row["key"] in existing for row in shipped):
            return
    new_version = version_model.objects.using(using).create(
        number=(current.number + 1) if current else 1, created_by="system", note=note
    )
    rows = []
    for row in shipped:
        kept = existing.get(row["key"])
        rows.append(
            threshold_model(
                version=new_version,
                key=row["key"],
                value=kept.value if kept else row["value"],
                unit=row["unit"],
                clause=row["clause"],
                basis=row["basis"],
                title_zh=row["title_zh"],
                title_en=row["title_en"],
            )
        )
    threshold_model.objects.using(using).bulk_create(rows)


def safety_data_ensure(*, using: str = "default") -> None:
    """Load the shipped taxonomy and thresholds again if they are gone.

    Data migrations put them in place; a test that flushes the database (Django's transactional
    tests do) takes them away for the tests after it. Idempotent and one query when present.
    """
    from django.apps import apps

    risk_model = apps.get_model("filing", "Risk")
    version_model = apps.get_model("filing", "SafetyConfigVersion")
    shipped_risks = sum(len(c["risks"]) for c in risk_taxonomy_data()["categories"])
    if risk_model.objects.using(using).count() != shipped_risks:
        risk_taxonomy_load(apps=apps, using=using)
    if not version_model.objects.using(using).exists():
        safety_thresholds_load(apps=apps, using=using)
