"""Shared helpers for the nets' configuration dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any, Self


class ConfigMixin:
    """``to_dict``/``from_dict`` for a frozen dataclass, refusing unknown keys with a clear message."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None = None, **overrides: Any) -> Self:
        merged = {**(values or {}), **overrides}
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(merged) - names)
        if unknown:
            raise ValueError(
                f"Unknown {cls.__name__} setting(s): {', '.join(unknown)}. Known settings: {', '.join(sorted(names))}."
            )
        return cls(**merged)

    def replace(self, **changes: Any) -> Self:
        return type(self).from_dict(self.to_dict(), **changes)
