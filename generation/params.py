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

from generation.tunes import OpeningMisfit, Tune, form_position

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
    # Strict: a JSON number without a fraction. true is not 1 and "2" is not 2 (the web forms send ints).
    if isinstance(raw, bool) or not isinstance(raw, int | float) or (isinstance(raw, float) and not raw.is_integer()):
        errors[name] = _("Enter a whole number.")
        return 0
    value = int(raw)
    if not low <= value <= high:
        errors[name] = _("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high}
    return value


def _float(params: dict[str, Any], name: str, default: float, low: float, high: float, errors: dict[str, str]) -> float:
    raw = params.get(name, default)
    if raw in (None, ""):
        raw = default
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        errors[name] = _("Enter a number.")
        return default
    value = float(raw)
    if not low <= value <= high:
        errors[name] = _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}
    return value


def opening_misfit_message(misfit: OpeningMisfit, tune: Tune) -> str:
    """Why an opening does not fit ``tune``, in words a user can act on."""
    values = {"tune": tune.name, "line": misfit.line, "expected": misfit.expected, "got": misfit.got}
    if misfit.problem == "too_long":
        return _("The opening is longer than a whole %(tune)s (%(expected)d characters).") % values
    if misfit.problem == "line_short":
        return (
            _("Line %(line)d of %(tune)s has %(expected)d characters, but the opening's ends after %(got)d.") % values
        )
    return (
        _(
            "Line %(line)d of %(tune)s has %(expected)d characters; the opening's is longer. "
            "Put a punctuation mark where it ends."
        )
        % values
    )


def _lm_clean(params: dict[str, Any], tunes: list[Tune] | None, lim: Limits, errors: dict[str, str]) -> dict[str, Any]:
    tune_name = params.get("tune")
    tune = None
    if not isinstance(tune_name, str) or not tune_name.strip():
        errors["tune"] = _("Choose a tune (词牌) to write to.")
        tune_name = ""
    elif tunes is not None:
        tune = next((t for t in tunes if t.name == tune_name.strip()), None)
        if tune is None:
            errors["tune"] = _("“%(tune)s” is not one of the tunes this model writes to; choose one from the list.") % {
                "tune": tune_name[:20]
            }
    opening = params.get("opening", "")
    if opening is None:
        opening = ""
    if not isinstance(opening, str):
        errors["opening"] = _("Enter text.")
        opening = ""
    opening = "".join(opening.split())
    if len(opening) > lim.max_prompt_chars:
        errors["opening"] = _("Keep the opening to %(n)d characters or fewer.") % {"n": lim.max_prompt_chars}
    elif tune is not None:
        try:
            form_position(tune.form, opening)
        except OpeningMisfit as misfit:
            errors["opening"] = opening_misfit_message(misfit, tune)
    return {
        "tune": tune_name.strip(),
        "opening": opening,
        "temperature": _float(params, "temperature", 0.8, lim.min_temperature, lim.max_temperature, errors),
        "top_k": _int(params, "top_k", 40, 1, lim.max_top_k, errors),
    }


def params_clean(kind: str, params: dict[str, Any], *, tunes: list[Tune] | None = None) -> tuple[dict[str, Any], int]:
    """Return the cleaned parameters of a job of ``kind`` and its seed, or raise ValidationError.

    The error maps each bad field to a sentence the user can act on. ``tunes`` are the tunes the serving
    language model writes to (None: the tune is not checked against a list, as when no model serves).
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
        known |= {"tune", "opening", "temperature", "top_k"}
        cleaned = _lm_clean(params, tunes, lim, errors)
        for old in ("prompt", "length"):
            if old in params:
                errors[old] = _(
                    "The text model writes one whole piece to a tune: give “tune” and, if you like, an “opening”; "
                    "“prompt” and “length” are no longer used."
                )
                known.add(old)
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
