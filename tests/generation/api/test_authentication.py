"""Token authentication reads the caller and their roles in one query, and refuses as DRF's own does."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from genai_platform.authentication import RoleTokenAuthentication
from genai_platform.roles import Role, user_has_role

pytestmark = pytest.mark.django_db


def test_the_token_and_the_roles_are_one_query(user_with_role):
    token = Token.objects.create(user=user_with_role(Role.END_USER))
    RoleTokenAuthentication().authenticate_credentials(token.key)  # prepared on PostgreSQL

    with CaptureQueriesContext(connection) as queries:
        user, found = RoleTokenAuthentication().authenticate_credentials(token.key)
        roles = (user_has_role(user, Role.END_USER), user_has_role(user, Role.AUDITOR))
        assert found.user is user

    assert found == token and user.pk == token.user_id
    assert roles == (True, False)
    assert len(queries) == 1
    # The columns come back as the ORM would give them, on every database.
    assert isinstance(user.date_joined, datetime.datetime) and user.date_joined == token.user.date_joined
    assert isinstance(found.created, datetime.datetime) and found.created == token.created


def test_a_user_with_several_roles_holds_each(user_with_role):
    from generation.access import user_role_add

    user = user_with_role(Role.AUDITOR)
    user_role_add(user=user, role=Role.END_USER)
    token = Token.objects.create(user=user)

    user, _token = RoleTokenAuthentication().authenticate_credentials(token.key)

    assert user._role_names == {Role.AUDITOR.value, Role.END_USER.value}


def test_an_unknown_key_and_an_inactive_user_are_refused(user_with_role):
    token = Token.objects.create(user=user_with_role(Role.END_USER))

    with pytest.raises(AuthenticationFailed):
        RoleTokenAuthentication().authenticate_credentials("0" * 40)
    token.user.is_active = False
    token.user.save(update_fields=["is_active"])
    with pytest.raises(AuthenticationFailed):
        RoleTokenAuthentication().authenticate_credentials(token.key)
