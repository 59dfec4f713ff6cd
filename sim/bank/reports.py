"""Radiology-style reports (FINDINGS + IMPRESSION) describing what was actually drawn.

Reports read the measured lesion (size, fluid level, cardiothoracic ratio) so the text agrees with the
pixels, and pick among several phrasings so retrieval over report text is not a lookup of one template.
"""

from __future__ import annotations

import numpy as np

from sim.bank.lesions import LesionInfo
from sim.bank.regions import Side, Zone
from sim.bank.sampling import pick

_LOBES = {
    ("right", "upper"): "right upper lobe",
    ("right", "lower"): "right lower lobe",
    ("left", "lower"): "left lower lobe",
}


def _other(side: Side) -> str:
    return "left" if side == "right" else "right"


def _format(findings: str, impression: str) -> str:
    return f"FINDINGS: PA chest radiograph. {findings}\n\nIMPRESSION: {impression}"


def _normal(rng: np.random.Generator, ratio: float) -> str:
    findings = pick(
        rng,
        (
            (
                "The lungs are clear with normal vascular markings. No focal consolidation, pleural effusion or "
                f"pneumothorax. The cardiomediastinal silhouette is normal (cardiothoracic ratio about {ratio:.2f}). "
                "Both costophrenic angles are sharp. No bony abnormality."
            ),
            (
                f"Heart size is within normal limits, cardiothoracic ratio {ratio:.2f}. The mediastinum is central and "
                "not widened. Both lungs are well expanded and clear. The hemidiaphragms are smooth."
            ),
            (
                "Clear, well-inflated lungs. Normal hila. No pleural fluid or air. Heart and mediastinal contours "
                "unremarkable. Visualised bones intact."
            ),
        ),
    )
    impression = pick(
        rng, ("No acute cardiopulmonary abnormality.", "Normal chest radiograph.", "No focal lung lesion.")
    )
    return _format(findings, impression)


def _consolidation(rng: np.random.Generator, side: Side, level: Zone) -> str:
    lobe = _LOBES.get((side, level), f"{side} {level} lobe")
    border = {
        ("right", "lower"): "obscuring the outline of the right hemidiaphragm",
        ("left", "lower"): "with increased density behind the heart and loss of the medial left hemidiaphragm outline",
        ("right", "upper"): "sharply limited inferiorly by the horizontal fissure",
    }.get((side, level), "")
    findings = pick(
        rng,
        (
            (
                f"Patchy airspace opacity in the {side} {level} zone with air bronchograms, {border}. The {_other(side)} "
                "lung is clear. No pleural effusion or pneumothorax. Heart size normal."
            ),
            (
                f"There is dense consolidation of the {side} {level} zone, {border}. Air bronchograms are visible within "
                "it. Remaining lung fields clear. Cardiomediastinal contours normal."
            ),
            (
                f"Confluent opacification in the {side} {level} zone {border}; the rest of the lungs are clear. No "
                "effusion. Normal heart size."
            ),
        ),
    )
    impression = pick(
        rng,
        (
            f"Consolidation of the {lobe}, in keeping with pneumonia.",
            f"{lobe.capitalize()} pneumonia. Follow-up film in 6 weeks to confirm resolution.",
            f"Findings consistent with {lobe} lobar pneumonia.",
        ),
    )
    return _format(findings, impression)


def _effusion(rng: np.random.Generator, side: Side, fluid_level_v: float) -> str:
    size = "small" if fluid_level_v > 0.77 else "moderate"
    findings = pick(
        rng,
        (
            (
                f"Homogeneous opacity at the {side} base with a meniscus rising along the lateral chest wall, blunting the "
                f"{side} costophrenic angle and obscuring the {side} hemidiaphragm. No mediastinal shift. The "
                f"{_other(side)} lung is clear."
            ),
            (
                f"{size.capitalize()} amount of fluid in the {side} pleural space, with loss of the {side} costophrenic "
                f"angle and a concave upper margin. The {_other(side)} costophrenic angle is sharp. Heart size normal."
            ),
            (
                f"Blunting of the {side} costophrenic angle by a dependent opacity with a meniscus, silhouetting the "
                f"{side} "
                "hemidiaphragm. Lungs otherwise clear."
            ),
        ),
    )
    impression = pick(
        rng, (f"{size.capitalize()} {side} pleural effusion.", f"{side.capitalize()} pleural effusion ({size}).")
    )
    return _format(findings, impression)


def _pneumothorax(rng: np.random.Generator, side: Side, lung_kept: float) -> str:
    size = "large" if lung_kept < 0.62 else "moderate" if lung_kept < 0.72 else "small"
    findings = pick(
        rng,
        (
            (
                f"A visceral pleural line is visible in the {side} upper zone, with no lung markings beyond it from the "
                f"{side} apex down the lateral chest wall. No mediastinal shift. The {_other(side)} lung is clear."
            ),
            (
                f"Lucent rim without lung markings around the {side} lung, widest at the {side} apex, bounded by a thin "
                "pleural line. Trachea and mediastinum central. Heart size normal."
            ),
            (
                f"The {side} lung edge is separated from the chest wall by a band of air, most marked at the apex. No "
                "pleural fluid. Normal heart and mediastinum."
            ),
        ),
    )
    impression = pick(
        rng,
        (
            f"{size.capitalize()} {side} pneumothorax without radiographic signs of tension.",
            f"{side.capitalize()} pneumothorax ({size}).",
        ),
    )
    return _format(findings, impression)


def _cardiomegaly(rng: np.random.Generator, ratio: float) -> str:
    findings = pick(
        rng,
        (
            (
                f"The cardiac silhouette is enlarged, cardiothoracic ratio about {ratio:.2f}. Upper lobe vascular "
                "prominence and slightly indistinct hila. No focal consolidation. No large pleural effusion."
            ),
            (
                f"Enlarged heart with a cardiothoracic ratio of {ratio:.2f}, the left heart border extending towards the "
                "lateral chest wall. Mild pulmonary venous congestion. Lungs otherwise clear."
            ),
            (
                f"Globular enlargement of the cardiac silhouette (CTR {ratio:.2f}). Prominent hilar vessels. Costophrenic "
                "angles preserved."
            ),
        ),
    )
    impression = pick(
        rng,
        (
            "Cardiomegaly with mild pulmonary venous congestion.",
            f"Cardiomegaly (CTR {ratio:.2f}); correlate with echocardiography.",
        ),
    )
    return _format(findings, impression)


def _nodule(rng: np.random.Generator, side: Side, level: Zone, diameter_mm: float) -> str:
    size = f"{diameter_mm:.0f} mm"
    findings = pick(
        rng,
        (
            (
                f"A well-defined round opacity measuring about {size} is seen in the {side} {level} zone. No calcification "
                "is evident. The lungs are otherwise clear. Normal hila and heart size."
            ),
            (
                f"Solitary {size} rounded nodular density in the {side} {level} zone with smooth margins. No hilar "
                "enlargement, effusion or other focal lesion."
            ),
        ),
    )
    impression = pick(
        rng,
        (
            (
                f"Solitary pulmonary nodule ({size}) in the {side} {level} zone; CT chest recommended for "
                "characterisation."
            ),
            f"{size} nodule in the {side} {level} zone. Compare with any previous imaging; CT advised.",
        ),
    )
    return _format(findings, impression)


def _mass(rng: np.random.Generator, side: Side, level: Zone, diameter_mm: float) -> str:
    size = f"{diameter_mm / 10:.1f} cm"
    near_hilum = f", extending towards the {side} hilum" if level == "mid" else ""
    findings = pick(
        rng,
        (
            (
                f"A lobulated mass of about {size} with spiculated margins in the {side} {level} zone{near_hilum}. No "
                "cavitation. No pleural effusion. Heart size normal."
            ),
            (
                f"There is a {size} irregular, spiculated opacity in the {side} {level} zone{near_hilum}. Remaining lungs "
                "clear. No rib destruction visible."
            ),
        ),
    )
    impression = pick(
        rng,
        (
            (
                f"{side.capitalize()} {level} zone mass, highly suspicious for primary lung cancer. CT chest and tissue "
                "diagnosis recommended."
            ),
            f"Spiculated {size} lung mass in the {side} {level} zone, suspicious for malignancy.",
        ),
    )
    return _format(findings, impression)


def radiology_report(
    rng: np.random.Generator, lesion: LesionInfo, side: Side | None, level: Zone | None, cardiothoracic_ratio: float
) -> str:
    extra = lesion.extra
    if lesion.kind == "consolidation" and side and level:
        return _consolidation(rng, side, level)
    if lesion.kind == "effusion" and side:
        return _effusion(rng, side, extra["fluid_level_v"])
    if lesion.kind == "pneumothorax" and side:
        return _pneumothorax(rng, side, extra["lung_kept"])
    if lesion.kind == "cardiomegaly":
        return _cardiomegaly(rng, cardiothoracic_ratio)
    if lesion.kind == "nodule" and side and level:
        return _nodule(rng, side, level, extra["diameter_mm"])
    if lesion.kind == "mass" and side and level:
        return _mass(rng, side, level, extra["diameter_mm"])
    return _normal(rng, cardiothoracic_ratio)
