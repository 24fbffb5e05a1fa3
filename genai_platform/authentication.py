"""Token authentication that reads the caller's roles with the token: one query for who calls and what they may do.

DRF's ``TokenAuthentication`` reads the token with its user through the ORM; the role check
(``genai_platform.roles.HasRole``) would then read the user's groups in a second query on every call. Here one
statement, written once per process, reads the token, its user and the names of the user's groups (the roles),
and leaves the roles where ``user_has_role`` looks first. Compiling the same query through the ORM on every call would
cost more than running it; on PostgreSQL it is a prepared statement (``genai_platform.prepared``).
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from genai_platform.joined import Joined, quoted, table
from genai_platform.prepared import execute_prepared


@functools.cache
def _token_read() -> tuple[str, Joined]:
    """The statement, and the token with its user as it reads them.

    A row per group of the user (one with no group name for a user in none), the group's name last: joins plan in
    about half the time that a subquery per role does."""
    user_model = get_user_model()
    groups = user_model.groups.field
    token = Joined(Token, ["user"])
    quote = connection.ops.quote_name
    member_user, member_group = quote(groups.m2m_column_name()), quote(groups.m2m_reverse_name())
    name, group_pk = quoted(Group._meta.get_field("name")), quoted(Group._meta.pk)
    sql = (
        f"SELECT {token.columns}, g.{name} FROM {table(Token)} a0 {token.joins} "  # noqa: S608 (model names)
        f"LEFT JOIN {table(user_model.groups.through)} m ON m.{member_user} = a0.{quoted(Token.user.field)} "
        f"LEFT JOIN {table(Group)} g ON g.{group_pk} = m.{member_group} WHERE a0.{quoted(Token._meta.pk)} = %s"
    )
    return sql, token


class RoleTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, answered with the user and their roles read in one statement."""

    model = Token

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        sql, read = _token_read()
        with connection.cursor() as cursor:
            execute_prepared(cursor, "genai_token_roles", sql, [key])
            rows = cursor.fetchall()
        token = read.instances(rows[0][: read.width]) if rows else None
        if not isinstance(token, Token) or not token.user.is_active:
            return super().authenticate_credentials(key)  # refuses it, in DRF's own words
        user = token.user
        user._role_names = {found[-1] for found in rows if found[-1] is not None}  # type: ignore[attr-defined]
        return (user, token)
