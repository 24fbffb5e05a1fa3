"""Shared helpers for the nets' configuration dataclasses: reading, writing and checking them."""

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


def image_size_check(net: str, image_size: int) -> None:
    """The image sizes a digit net can work at: two stride-2 steps down must leave whole pixels."""
    if image_size % 4 or image_size < 8:
        raise ValueError(f"{net} image_size must be a multiple of 4 and at least 8, got {image_size}.")


def augment_shift_check(net: str, augment_shift: int, image_size: int) -> None:
    """The shifts a digit net's training may move its images by: under a quarter of the image each way."""
    if not 0 <= augment_shift < image_size // 4:
        raise ValueError(
            f"{net} augment_shift must be from 0 to below a quarter of the image size, got {augment_shift!r}."
        )
