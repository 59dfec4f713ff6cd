"""Radiology reports of look-alike films: what the film shows, never what caused it.

A radiologist reading a film without the story describes the sign (its side, size and company) and can at
most offer the group's differential; the cause is the clinician's to find. Several phrasings per sign keep
report retrieval from being a lookup of one template.
"""

from __future__ import annotations

import numpy as np

from sim.bank.lookalike.film import Film, Sign
from sim.bank.sampling import pick

_LOBES = {("right", "upper"): "right upper lobe", ("right", "mid"): "right middle lobe",
          ("right", "lower"): "right lower lobe", ("left", "upper"): "left upper lobe",
          ("left", "mid"): "lingula", ("left", "lower"): "left lower lobe"}  # fmt: skip


def _size_word(size: float) -> str:
    return "small" if size < 0.4 else "moderate" if size < 0.75 else "large"


def _effusion(rng: np.random.Generator, sign: Sign) -> tuple[str, str]:
    size = _size_word(sign.size)
    if sign.size < 0.2:
        return (pick(rng, (f"Blunting of the {sign.side} costophrenic angle.",
                           f"Trace fluid at the {sign.side} costophrenic angle.")),
                f"small {sign.side} pleural effusion")  # fmt: skip
    finding = pick(rng, (
        f"There is a {size} {sign.side} pleural effusion with a meniscus along the lateral chest wall.",
        (f"Homogeneous opacity at the {sign.side} base with a curved upper border tracking up the lateral wall, "
        f"in keeping with a {size} pleural effusion."),
        f"{size.capitalize()} {sign.side}-sided pleural fluid obscuring the {sign.side} hemidiaphragm.",
    ))  # fmt: skip
    return finding, f"{size} {sign.side} pleural effusion"


def _consolidation(rng: np.random.Generator, sign: Sign) -> tuple[str, str]:
    lobe = _LOBES.get((sign.side or "right", sign.level or "lower"), "lung")
    extent = "patchy" if sign.size < 0.45 else "dense"
    finding = pick(rng, (
        f"There is {extent} airspace opacification in the {lobe} with air bronchograms.",
        f"{extent.capitalize()} consolidation of the {lobe}.",
        f"Confluent airspace shadowing in the {sign.side} {sign.level} zone, {lobe}, with air bronchograms.",
    ))  # fmt: skip
    return finding, f"{lobe} consolidation"


def _cavity(rng: np.random.Generator, sign: Sign) -> tuple[str, str]:
    return (
        pick(
            rng,
            (
                f"A thick-walled lucency lies within the {sign.side} {sign.level} zone opacity.",
                f"Cavitation within the {sign.side} {sign.level} zone consolidation.",
            ),
        ),
        "with cavitation",
    )


def _cardiomegaly(rng: np.random.Generator, sign: Sign, projection: str) -> tuple[str, str]:
    ratio = f"{sign.size:.2f}"
    caveat = " (AP film, which magnifies the heart)" if projection == "AP" else ""
    shape = " with a globular outline" if sign.size > 0.66 else ""
    finding = pick(rng, (
        f"The cardiac silhouette is enlarged{shape}, cardiothoracic ratio about {ratio}{caveat}.",
        f"Cardiomegaly: cardiothoracic ratio {ratio}{caveat}{shape}.",
        f"Enlarged cardiac silhouette{shape} (cardiothoracic ratio {ratio}){caveat}.",
    ))  # fmt: skip
    return finding, "enlarged cardiac silhouette"


def _congestion(rng: np.random.Generator, sign: Sign) -> tuple[str, str]:
    return (
        pick(rng, ("Upper lobe venous diversion and hazy hila.", "Prominent upper lobe vessels; perihilar haze.")),
        "pulmonary venous congestion",
    )


def _nodule(rng: np.random.Generator, sign: Sign, count: int, diameter_mm: float) -> tuple[str, str]:
    where = f"{sign.side} {sign.level} zone"
    if count > 1:
        return (
            f"Multiple rounded nodules in both lungs, the largest {diameter_mm:.0f} mm in the {where}.",
            f"multiple pulmonary nodules (largest {diameter_mm:.0f} mm)",
        )
    texture = (
        pick(rng, ("densely calcified", "with internal calcification"))
        if sign.calcified
        else pick(rng, ("well defined", "with a smooth margin", "with a slightly lobulated margin"))
    )
    return (
        f"A solitary {diameter_mm:.0f} mm nodule in the {where}, {texture}.",
        f"solitary {diameter_mm:.0f} mm {sign.side} {sign.level} zone nodule",
    )


def _mass(rng: np.random.Generator, sign: Sign, diameter_mm: float) -> tuple[str, str]:
    where = f"{sign.side} {sign.level} zone"
    finding = pick(rng, (
        f"A lobulated {diameter_mm:.0f} mm mass with spiculated margins in the {where}.",
        f"There is a {diameter_mm:.0f} mm mass in the {where} with an irregular, spiculated border.",
    ))  # fmt: skip
    return finding, f"{diameter_mm:.0f} mm {sign.side} {sign.level} zone mass"


def _pneumothorax(rng: np.random.Generator, sign: Sign, lung_kept: float) -> tuple[str, str]:
    size = "small" if lung_kept > 0.72 else "moderate" if lung_kept > 0.6 else "large"
    finding = pick(rng, (
        (f"A visceral pleural line is seen in the {sign.side} hemithorax with no lung markings beyond it: {size} "
        f"{sign.side} pneumothorax."),
        f"{size.capitalize()} {sign.side} pneumothorax; the lung edge lies well away from the chest wall at the apex.",
        (f"Absent lung markings peripheral to a thin pleural line on the {sign.side}, in keeping with a {size} "
        "pneumothorax. No mediastinal shift."),
    ))  # fmt: skip
    return finding, f"{size} {sign.side} pneumothorax"


def _others(rng: np.random.Generator, film: Film) -> list[str]:
    notes = []
    for sign in film.plan.signs:
        if sign.kind == "hyperinflation":
            notes.append(pick(rng, ("The lungs are hyperinflated with flattened hemidiaphragms.",
                                    "Hyperexpanded lungs; flat diaphragms.")))  # fmt: skip
        elif sign.kind == "central_line":
            notes.append(f"A {sign.side}-sided central venous catheter tip projects over the superior vena cava.")
        elif sign.kind == "pacemaker":
            notes.append("A left-sided cardiac device with its lead in the right ventricle.")
        elif sign.kind == "sternotomy":
            notes.append("Median sternotomy wires.")
        elif sign.kind == "granuloma":
            notes.append(f"A tiny calcified granuloma in the {sign.side} {sign.level} zone, of no concern.")
    return notes


def _number(info: dict, key: str, default: float) -> float:
    value = info.get(key, default)
    return float(value) if isinstance(value, (int, float)) else default


def film_report(film: Film, rng: np.random.Generator) -> str:
    """FINDINGS and IMPRESSION for the film as drawn (sizes from what was painted)."""
    signs = film.measured.get("signs")
    measured = signs if isinstance(signs, list) else []
    findings: list[str] = []
    impressions: list[str] = []
    painted = iter(m for m in measured if isinstance(m, dict))
    drawn = {
        id(s): next(painted, {}) for s in film.plan.signs if s.kind not in ("central_line", "pacemaker", "sternotomy")
    }
    nodules = film.plan.of_kind("nodule")
    for sign in film.plan.signs:
        info = drawn.get(id(sign), {})
        if sign.kind == "effusion":
            pair = _effusion(rng, sign)
        elif sign.kind == "consolidation":
            pair = _consolidation(rng, sign)
        elif sign.kind == "cavity":
            pair = _cavity(rng, sign)
        elif sign.kind == "cardiomegaly":
            ratio = film.measured["cardiothoracic_ratio"]
            assert isinstance(ratio, float)  # render_film measures it
            pair = _cardiomegaly(rng, Sign("cardiomegaly", size=ratio), film.plan.projection)
        elif sign.kind == "congestion":
            pair = _congestion(rng, sign)
        elif sign.kind == "nodule":
            if sign is not nodules[0] and not sign.calcified:
                continue  # described with the first
            pair = _nodule(
                rng,
                sign,
                len([n for n in nodules if not n.calcified]) if not sign.calcified else 1,
                _number(info, "diameter_mm", 15.0),
            )
        elif sign.kind == "mass":
            pair = _mass(rng, sign, _number(info, "diameter_mm", 40.0))
        elif sign.kind == "pneumothorax":
            pair = _pneumothorax(rng, sign, _number(info, "lung_kept", 0.7))
        else:
            continue
        findings.append(pair[0])
        impressions.append(pair[1])
    findings += _others(rng, film)
    if not impressions:
        findings.insert(0, pick(rng, (
            "The lungs are clear. No focal consolidation, pleural effusion or pneumothorax.",
            "Both lungs are well expanded and clear. No pleural fluid or air.",
            "Clear lungs with normal vascular markings.",
        )))  # fmt: skip
        if not film.plan.of_kind("cardiomegaly"):
            findings.append(f"Heart size normal (cardiothoracic ratio {film.measured['cardiothoracic_ratio']}).")
        impression = pick(rng, ("No acute cardiopulmonary abnormality.", "Normal chest radiograph."))
    else:
        impression = "; ".join(impressions)
        impression = impression[0].upper() + impression[1:] + "."
    view = "AP" if film.plan.projection == "AP" else "PA"
    return f"FINDINGS: {view} chest radiograph. {' '.join(findings)}\n\nIMPRESSION: {impression}"
