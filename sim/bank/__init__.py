"""The synthetic image-report case bank: the project's offline default data and its test data.

`generate_bank(n, seed, out)` writes `out/cases.jsonl` (one `Case` per line) and `out/images/*.png`
(procedurally drawn PA chest radiographs). Everything is deterministic in (seed, index).
"""

from __future__ import annotations

from sim.bank.conditions import CONDITIONS, CONDITIONS_BY_KEY, Condition, condition, regions_for
from sim.bank.draw import DEFAULT_SIZE, Radiograph, nominal_region_boxes, render_chest
from sim.bank.generate import BankCase, build_case, case_id, condition_for, generate_bank
from sim.bank.lesions import LesionSpec
from sim.bank.regions import REGIONS, region_extent

NOMINAL_BOXES = nominal_region_boxes()

__all__ = [
    "CONDITIONS",
    "CONDITIONS_BY_KEY",
    "DEFAULT_SIZE",
    "NOMINAL_BOXES",
    "REGIONS",
    "BankCase",
    "Condition",
    "LesionSpec",
    "Radiograph",
    "build_case",
    "case_id",
    "condition",
    "condition_for",
    "generate_bank",
    "nominal_region_boxes",
    "region_extent",
    "regions_for",
    "render_chest",
]
