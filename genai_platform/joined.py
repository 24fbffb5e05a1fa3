"""A row with the rows its foreign keys lead to, as ``select_related`` reads them, in SQL written once per process.

The job path reads such rows on every submission (the serving checkpoint with its model record, service and
provider) and every run (the job with its checkpoint's chain and its user). Compiling those ORM queries cost
several milliseconds a call, more than running them. ``Joined`` writes the columns and the joins once from the
models' own names, and turns a result row back into model instances with the converters the ORM would apply,
each related instance cached where ``select_related`` would leave it (so reading it asks nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Field, ForeignKey, Model


def quoted(field: Any) -> str:
    """``field``'s column name, quoted for the database."""
    return str(connection.ops.quote_name(field.column))


def table(model: type[Model]) -> str:
    """``model``'s table name, quoted for the database."""
    return str(connection.ops.quote_name(model._meta.db_table))


@dataclass(frozen=True)
class Column:
    """A column of a hand-written read: the converters from the database's value to Python's, as the ORM's."""

    expression: Any
    converters: tuple[Any, ...]

    @classmethod
    def of(cls, expression: Any, field: Field[Any, Any]) -> Column:
        converters = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
        return cls(expression, tuple(converters))

    def value(self, raw: Any) -> Any:
        for converter in self.converters:
            raw = converter(raw, self.expression, connection)
        return raw


@dataclass(frozen=True)
class _Node:
    model: type[Model]
    parent: int  # index of the node whose foreign key leads here; -1 for the root
    link: ForeignKey[Any, Any] | None
    alias: str
    attnames: tuple[str, ...]
    columns: tuple[Column, ...]
    pk_at: int  # position of the primary key among the columns


class Joined:
    """``model``'s row (SQL alias ``a0``) with the rows along ``paths`` (``"checkpoint__model_record"``, as
    ``select_related`` names them), each LEFT JOINed, so that a missing or null link reads as None."""

    def __init__(self, model: type[Model], paths: Sequence[str]) -> None:
        self.nodes: list[_Node] = []
        self._add(model, parent=-1, link=None)
        where: dict[str, int] = {"": 0}
        for path in paths:
            walked = ""
            for name in path.split("__"):
                parent = where[walked]
                walked = f"{walked}__{name}" if walked else name
                if walked not in where:
                    link = self.nodes[parent].model._meta.get_field(name)
                    if not isinstance(link, ForeignKey):
                        raise TypeError(f"{path}: {name} is not a foreign key")
                    where[walked] = self._add(link.related_model, parent=parent, link=link)

    def _add(self, model: Any, *, parent: int, link: ForeignKey[Any, Any] | None) -> int:
        alias = f"a{len(self.nodes)}"
        fields = model._meta.concrete_fields
        columns = tuple(Column.of(f.get_col(alias), f) for f in fields)
        attnames = tuple(f.attname for f in fields)
        self.nodes.append(_Node(model, parent, link, alias, attnames, columns, attnames.index(model._meta.pk.attname)))
        return len(self.nodes) - 1

    @property
    def columns(self) -> str:
        """The select list: every concrete column of every row, in node order."""
        return ", ".join(f"{node.alias}.{quoted(f)}" for node in self.nodes for f in node.model._meta.concrete_fields)

    @property
    def width(self) -> int:
        return sum(len(node.columns) for node in self.nodes)

    @property
    def joins(self) -> str:
        """The LEFT JOINs from the root (``a0``) to every other row."""
        parts = []
        for node in self.nodes[1:]:
            assert node.link is not None and node.model._meta.pk is not None
            parent = self.nodes[node.parent].alias
            parts.append(
                f"LEFT JOIN {table(node.model)} {node.alias} "
                f"ON {node.alias}.{quoted(node.model._meta.pk)} = {parent}.{quoted(node.link)}"
            )
        return " ".join(parts)

    def instances(self, row: Sequence[Any]) -> Model | None:
        """The root instance of ``row`` (the columns of ``columns``, in order), its related instances cached on it;
        None when the root's primary key is null."""
        built: list[Model | None] = []
        at = 0
        for node in self.nodes:
            raw = row[at : at + len(node.columns)]
            at += len(node.columns)
            parent = built[node.parent] if node.parent >= 0 else None
            instance = None
            if (node.parent < 0 or parent is not None) and raw[node.pk_at] is not None:
                values = [column.value(value) for column, value in zip(node.columns, raw, strict=True)]
                instance = node.model.from_db(connection.alias, list(node.attnames), values)
            if node.link is not None and parent is not None:
                node.link.set_cached_value(parent, instance)
            built.append(instance)
        return built[0]
