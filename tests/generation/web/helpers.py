"""What the tests of the end-user pages share."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

PASSWORD = "pw-for-tests-123"


def user_of(client: Client) -> Any:
    """The user ``client`` is signed in as."""
    return get_user_model().objects.get(pk=client.session["_auth_user_id"])


def text_of(response: Any) -> str:
    return response.content.decode()
