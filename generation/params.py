"""Validation of generation parameters: one place for the limits the UI shows and the API enforces.

Pure Python (no torch, no ORM) so the web process can use it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SEED_MAX = 2**31 - 1


@dataclass(frozen=True)
class Limits:
    max_images: int
    max_interpolation_steps: int
    max_text_chars: int
    max_prompt_chars: int
    min_temperature: float
    max_temperature: float
    max_top_k: int


def limits() -> Limits:
    return Limits(**settings.GENERATION_LIMITS)


def _int(params: dict[str, Any], name: str, default: int | None, low: int, high: int, errors: dict[str, str]) -> int:
    raw = params.get(name, default)
    if raw is None or raw == "":
        if default is None:
            errors[name] = _("This field is required.")
        return default or 0
    try:
        value = int(raw)
        if isinstance(raw, float) and raw != value:
            raise ValueError
    except (TypeError, ValueError):
        errors[name] = _("Enter a whole number.")
        return 0
    if not low <= value <= high:
        errors[name] = _("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high}
    return value


def _float(params: dict[str, Any], name: str, default: float, low: float, high: float, errors: dict[str, str]) -> float:
    raw = params.get(name, default)
    try:
        value = float(raw if raw not in (None, "") else default)
    except (TypeError, ValueError):
        errors[name] = _("Enter a number.")
        return default
    if not low <= value <= high:
        errors[name] = _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}
    return value


def params_clean(kind: str, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Return the cleaned parameters of a job of ``kind`` and its seed, or raise ValidationError.

    The error maps each bad field to a sentence the user can act on.
    """
    lim = limits()
    errors: dict[str, str] = {}
    known: set[str] = {"seed"}
    seed_given = params.get("seed") not in (None, "")
    seed = _int(params, "seed", 0, 0, SEED_MAX, errors) if seed_given else secrets.randbelow(SEED_MAX)
    cleaned: dict[str, Any]
    if kind == "gan":
        known |= {"digit", "count"}
        cleaned = {
            "digit": _int(params, "digit", None, 0, 9, errors),
            "count": _int(params, "count", 1, 1, lim.max_images, errors),
        }
    elif kind == "vae":
        known |= {"count", "interpolate_to_seed", "steps"}
        if params.get("interpolate_to_seed") not in (None, ""):
            cleaned = {
                "interpolate_to_seed": _int(params, "interpolate_to_seed", None, 0, SEED_MAX, errors),
                "steps": _int(params, "steps", 8, 2, lim.max_interpolation_steps, errors),
            }
        else:
            cleaned = {"count": _int(params, "count", 1, 1, lim.max_images, errors)}
    elif kind == "lm":
        known |= {"prompt", "length", "temperature", "top_k"}
        prompt = params.get("prompt", "")
        if not isinstance(prompt, str):
            errors["prompt"] = _("Enter text.")
            prompt = ""
        elif len(prompt) > lim.max_prompt_chars:
            errors["prompt"] = _("Keep the prompt to %(n)d characters or fewer.") % {"n": lim.max_prompt_chars}
        cleaned = {
            "prompt": prompt,
            "length": _int(params, "length", 100, 1, lim.max_text_chars, errors),
            "temperature": _float(params, "temperature", 0.8, lim.min_temperature, lim.max_temperature, errors),
            "top_k": _int(params, "top_k", 40, 1, lim.max_top_k, errors),
        }
    else:
        raise ValidationError({"kind": _("Unknown kind of generation: choose gan, vae or lm.")})
    unknown = sorted(set(params) - known)
    if unknown:
        errors[unknown[0]] = _("Unknown parameter for this kind: %(names)s.") % {"names": ", ".join(unknown)}
    if errors:
        raise ValidationError(errors)
    return cleaned, seed


def output_count(kind: str, params: dict[str, Any]) -> int:
    if kind == "lm":
        return 1
    if "interpolate_to_seed" in params:
        return int(params["steps"])
    return int(params["count"])
