"""Writes to filing records."""

from __future__ import annotations

from django.db import transaction

from filing.models import Provider, Service


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
