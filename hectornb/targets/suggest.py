"""Suggested flags from catalogues: shown to the classifier, never applied silently."""

from __future__ import annotations

from .badclass import BRIGHT_STAR_RULE


def suggest_bright_star(sources: list[dict]) -> dict | None:
    """BADCLASS 1 if a catalogue star breaks the survey's bright-star rule.

    The rule: a star within 15.5″ must be fainter than 16 mag, one within 31.0″ fainter
    than 15 mag. ``sources`` are dicts with ``kind``, ``r`` (arcsec), ``mag`` and ``band``
    (as `hectornb.catalogues.SkyCatalogue.sources_near` returns). Returns the suggestion
    with the offending star, or ``None``.
    """
    worst = None
    for s in sources:
        if s.get("kind") != "star" or s.get("mag") is None:
            continue
        for radius, faintest in BRIGHT_STAR_RULE:
            if s["r"] < radius.to_value("arcsec") and s["mag"] <= faintest:
                if worst is None or s["mag"] < worst["mag"]:
                    worst = s
                break
    if worst is None:
        return None
    return {
        "badclass": 1,
        "reason": (
            f"{worst['band']} = {worst['mag']:.2f} star at {worst['r']:.1f}″ "
            f"({worst['catalogue']} {worst['id']})"
        ),
    }
