"""Writes to filing records."""

from __future__ import annotations

from django.db import transaction

from filing.models import Dataset, ModelRecord, Provider, Service


@transaction.atomic
def provider_create(*, legal_name: str, uscc: str) -> Provider:
    provider = Provider(legal_name=legal_name, uscc=uscc)
    provider.full_clean()
    provider.save()
    return provider


@transaction.atomic
def service_create(*, provider: Provider, name: str, version: str = "1.0") -> Service:
    service = Service(provider=provider, name=name, version=version)
    service.full_clean()
    service.save()
    return service


def dataset_register(
    *,
    name: str,
    sha256: str,
    source: str,
    licence: str = "",
    licence_text: str = "",
    source_type: str = Dataset.SourceType.OPEN_SOURCE,
    origin: str = Dataset.Origin.OVERSEAS,
    items: int | None = None,
    size_bytes: int | None = None,
) -> Dataset:
    """The dataset record for these exact bytes, created on first use (keyed by SHA-256).

    An existing record is returned unchanged: operators may have completed its provenance in the
    admin, and training must not overwrite that.
    """
    with transaction.atomic():
        dataset, _created = Dataset.objects.get_or_create(
            sha256=sha256,
            defaults={
                "name": name[:200],
                "source": source[:500],
                "licence": licence[:200],
                "licence_text": licence_text,
                "source_type": source_type,
                "origin": origin,
                "items": items,
                "size_bytes": size_bytes,
            },
        )
    return dataset


def model_record_for_net(*, net_type: str) -> ModelRecord | None:
    """The model record new checkpoints of ``net_type`` belong to: the newest approved one, else the newest."""
    records = ModelRecord.objects.filter(net_type=net_type).order_by("-created_at")
    return records.filter(approval=ModelRecord.Approval.APPROVED).first() or records.first()
