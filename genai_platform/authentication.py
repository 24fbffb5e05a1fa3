"""Token authentication that reads the caller's roles with the token: one query for who calls and what they may do.

DRF's ``TokenAuthentication`` reads the token with its user through the ORM; the role check
(``genai_platform.roles.HasRole``) would then read the user's groups in a second query on every call. Here one
statement, written once per process, reads the token, its user and the names of the user's groups (the roles),
and leaves the roles where ``user_has_role`` looks first. Compiling the same query through the ORM on every call would
cost more than running it.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS, connection
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


@functools.cache
def _token_sql() -> tuple[str, list[str], list[str]]:
    """The statement, and the attribute names of the token's and of the user's columns in the order it reads them.

    A row per group of the user (one with no group name for a user in none), the group's name last: joins plan in
    about half the time that a subquery per role does."""
    quote = connection.ops.quote_name
    user_model = get_user_model()
    groups = user_model.groups.field
    token_fields = Token._meta.concrete_fields
    user_fields = user_model._meta.concrete_fields
    columns = [f"t.{quote(str(f.column))}" for f in token_fields] + [f"u.{quote(str(f.column))}" for f in user_fields]
    user_pk = f"u.{quote(str(user_model._meta.pk.column))}"
    membership = quote(user_model.groups.through._meta.db_table)
    sql = (
        f"SELECT {', '.join(columns)}, g.{quote('name')} FROM {quote(Token._meta.db_table)} t "  # noqa: S608 (model names)
        f"JOIN {quote(user_model._meta.db_table)} u ON {user_pk} = t.{quote(Token.user.field.column)} "
        f"LEFT JOIN {membership} m ON m.{quote(groups.m2m_column_name())} = {user_pk} "
        f"LEFT JOIN {quote(Group._meta.db_table)} g ON g.id = m.{quote(groups.m2m_reverse_name())} "
        f"WHERE t.{quote(str(Token._meta.pk.column))} = %s"
    )
    return sql, [f.attname for f in token_fields], [f.attname for f in user_fields]


class RoleTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, answered with the user and their roles read in one statement."""

    model = Token

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        sql, token_names, user_names = _token_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            rows = cursor.fetchall()
        if not rows:
            return super().authenticate_credentials(key)  # refuses it, in DRF's own words
        row, split = rows[0], len(token_names)
        user = get_user_model().from_db(DEFAULT_DB_ALIAS, user_names, row[split : split + len(user_names)])
        if not user.is_active:
            return super().authenticate_credentials(key)
        token = Token.from_db(DEFAULT_DB_ALIAS, token_names, row[:split])
        token.user = user
        user._role_names = {found[-1] for found in rows if found[-1] is not None}  # type: ignore[attr-defined]
        return (user, token)
