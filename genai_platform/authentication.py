"""Token authentication that reads the caller's roles with the token: one query for who calls and what they may do.

DRF's ``TokenAuthentication`` reads the token with its user; the role check (``genai_platform.roles.HasRole``)
would then read the user's groups in a second query on every call. Here the token's query also says, for each
role, whether the user holds it, and leaves the answer where ``user_has_role`` looks first.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from genai_platform.roles import Role


@functools.cache
def _holds_role_sql() -> str:
    """Whether the token's user is in the group named by the parameter (written once per process)."""
    quote = connection.ops.quote_name
    membership = get_user_model().groups.through
    user_column = get_user_model().groups.field.m2m_column_name()
    group_column = get_user_model().groups.field.m2m_reverse_name()
    return (
        f"EXISTS (SELECT 1 FROM {quote(membership._meta.db_table)} m JOIN {quote(Group._meta.db_table)} g "  # noqa: S608
        f"ON g.id = m.{group_column} WHERE m.{user_column} = {quote(Token._meta.db_table)}.user_id AND g.name = %s)"
    )


class RoleTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, answered with the user and their roles read in one query."""

    model = Token

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        holds = {f"holds_{role.value}": RawSQL(_holds_role_sql(), (role.value,), BooleanField()) for role in Role}  # noqa: S611 (our own SQL; the role is a parameter)
        token = Token.objects.select_related("user").annotate(**holds).filter(key=key).first()
        if token is None or not token.user.is_active:
            return super().authenticate_credentials(key)  # refuses it, in DRF's own words
        token.user._role_names = {role.value for role in Role if getattr(token, f"holds_{role.value}")}
        return (token.user, token)
