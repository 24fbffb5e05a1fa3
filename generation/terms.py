"""The terms of service and the privacy policy as versioned documents, and each user's acceptance of them.

The versions in force are the service agreement and privacy policy of the public service an operator published
from its filing documents; before any is published, the built-in texts (version "built-in") apply. Sign-up
records the acceptance of the versions in force. A newly published version must be accepted before the next
generation; every acceptance is an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from audit import services as audit
from filing.models import Document
from filing.selectors import document_published
from generation.models import TermsAcceptance

BUILT_IN = "built-in"
KINDS = (Document.Kind.SERVICE_AGREEMENT, Document.Kind.PRIVACY_POLICY)


@dataclass(frozen=True)
class TermsVersion:
    kind: str
    version: str
    document: Document | None

    @property
    def title(self) -> str:
        return self.document.title if self.document else str(Document.Kind(self.kind).label)


def terms_in_force() -> list[TermsVersion]:
    """The service agreement and privacy policy in force: published documents, or the built-in texts."""
    versions = []
    for kind in KINDS:
        document = document_published(kind)
        versions.append(TermsVersion(kind=kind, version=document.version if document else BUILT_IN, document=document))
    return versions


def terms_pending(user: Any) -> list[TermsVersion]:
    """Published versions ``user`` has not accepted yet (the built-in texts are accepted at sign-up)."""
    accepted = set(
        TermsAcceptance.objects.filter(user_id=user.pk, document_id__isnull=False).values_list("document_id", flat=True)
    )
    return [v for v in terms_in_force() if v.document is not None and v.document.pk not in accepted]


@transaction.atomic
def terms_accept(*, user: Any, request: Any = None) -> list[TermsVersion]:
    """Record that ``user`` accepted the versions in force now (an audit event); returns them."""
    versions = terms_in_force()
    TermsAcceptance.objects.bulk_create(
        TermsAcceptance(user=user, kind=v.kind, version=v.version, document_id=v.document.pk if v.document else None)
        for v in versions
    )
    audit.user_event(
        event_type="user.terms_accepted",
        actor=user,
        request=request,
        subject=user,
        payload={"documents": [{"kind": v.kind, "version": v.version} for v in versions]},
    )
    return versions
