"""Painting the normal chest: soft tissue, lungs with vascular markings, mediastinum, heart, bones.

Soft parts are painted first and bones last (`paint_bones`), so lesions painted in between stay
overlaid by ribs and clavicles, as on a real film.
"""

from __future__ import annotations

import numpy as np

from sim.bank.filters import smoothstep
from sim.bank.geometry import (
    body_mask,
    diaphragm_v,
    lateral_wall_u,
    side_sign,
)
from sim.bank.regions import SIDES, Side
from sim.bank.scene import Scene

Array = np.ndarray

AIR = 0.03
SOFT_TISSUE = 0.44
LUNG = 0.15
MEDIASTINUM = 0.80
ABDOMEN = 0.72


def vascular_markings(scene: Scene, side: Side, u: Array, v: Array) -> Array:
    """Branching-looking vessels radiating from the hilum, fading towards the periphery.

    Takes (u, v) explicitly so a collapsed lung can be textured with compressed coordinates.
    """
    hu, hv = scene.shape.hilum(side)
    du, dv = u - hu, (v - hv) * 1.2
    radius = np.sqrt(du**2 + dv**2)
    angle = np.arctan2(dv, du)
    warp = scene.noise(0.25)(u, v) * 0.9 + radius * 3.0
    streaks = (0.5 + 0.5 * np.cos(17.0 * angle + warp)) ** 12
    fine = (0.5 + 0.5 * np.cos(31.0 * angle - 1.7 * warp)) ** 16
    fade = np.exp(-radius / 0.38) * np.clip(1.15 - radius, 0.0, 1.0)
    hilar_blob = np.exp(-((radius / 0.09) ** 2))
    return 0.17 * (streaks + 0.6 * fine) * fade + 0.22 * hilar_blob


def paint_soft_tissue(scene: Scene) -> None:
    u, v, shape = scene.u, scene.v, scene.shape
    body = body_mask(shape, u, v)
    # Muscle and fat are thicker towards the body edge; the slight gradient stops it looking flat.
    edge_fade = smoothstep(shape.body_half_width, shape.body_half_width - 0.25, np.abs(u))
    scene.density[:] = np.where(body, SOFT_TISSUE * (0.75 + 0.25 * edge_fade), AIR)
    below = (v > diaphragm_v(shape, u)) & (np.abs(u) < lateral_wall_u(v) + 0.08)
    # The liver under the right dome is denser than the stomach and spleen under the left.
    scene.density[below] = (ABDOMEN - 0.05 * np.clip(u, 0, 1) - 0.04 * np.clip(v - 1.0, 0, 1))[below]
    if scene.rng.random() < 0.7:  # the gastric air bubble is not always visible
        bubble_u = scene.rng.uniform(0.35, 0.6)
        bubble_v = shape.dome_left_v + scene.rng.uniform(0.08, 0.16)
        width, height = scene.rng.uniform(0.06, 0.14), scene.rng.uniform(0.03, 0.06)
        bubble = ((u - bubble_u) / width) ** 2 + ((v - bubble_v) / height) ** 2 < 1.0
        scene.density[bubble & below] = 0.42


def paint_lungs(scene: Scene) -> None:
    texture = scene.noise_image(0.12)
    for side in SIDES:
        lung = scene.lung(side)
        u, v = scene.u[lung], scene.v[lung]
        # Lungs look denser towards the bases, where more soft tissue overlaps them.
        base = LUNG + 0.07 * np.clip(v, 0, 1) + 0.02 * texture[lung]
        scene.density[lung] = base + vascular_markings(scene, side, u, v)


def paint_mediastinum(scene: Scene) -> None:
    u, v, shape = scene.u, scene.v, scene.shape
    # Below the domes the heart merges into the equally dense upper abdomen.
    middle = scene.mediastinum & (v > 0.0) & (v < diaphragm_v(shape, u) + 0.03)
    scene.density[middle] = MEDIASTINUM
    heart = scene.heart & middle
    scene.density[heart] = MEDIASTINUM - 0.02
    # Trachea: an air column down the upper mediastinum, splitting at the carina.
    trachea = (np.abs(u - 0.01) < 0.045) & (v < 0.30) & (v > -0.6)
    for side in SIDES:
        s = side_sign(side)
        along = np.clip((v - 0.30) / 0.14, 0, 1)
        bronchus = (np.abs(u - s * 0.13 * along) < 0.03) & (v >= 0.30) & (v < 0.44)
        trachea |= bronchus
    scene.density[trachea] -= np.where(v > 0.0, 0.25, 0.14)[trachea]


def paint_bones(scene: Scene) -> None:
    u, v = scene.u, scene.v
    width = np.abs(u)
    body = body_mask(scene.shape, u, v)
    # Spine: bright column with darker disc spaces, seen faintly through the mediastinum.
    discs = 0.5 + 0.5 * np.cos(2 * np.pi * v / 0.105)
    spine = (width < 0.075) & (v > -0.6)
    scene.density[spine] += (0.03 + 0.03 * discs)[spine]

    # Posterior ribs: curved bands from the spine arching out and down, with bright cortical edges.
    # All ten are drawn in one pass: each pixel measures its distance to the nearest rib centre line.
    wall = lateral_wall_u(v)
    spacing = 0.105
    offset = (v - (-0.10 + 0.45 * width**2 - 0.15 * width)) / spacing
    rib = np.clip(np.round(offset), 0, 9)
    dist = np.abs(offset - rib) * spacing
    half = 0.020 + 0.0025 * rib
    band = (dist < half) & (width > 0.08) & (width < wall + 0.10)
    cortex = smoothstep(0.45, 1.0, dist / half)
    scene.density[band] += (0.07 + 0.06 * cortex)[band]
    # Anterior ribs: fainter bands sloping down towards the sternum, ending at the cartilage.
    offset = (v - (0.20 - 0.32 * (width - 0.95))) / 0.13
    rib = np.clip(np.round(offset), 0, 5)
    band = (np.abs(offset - rib) * 0.13 < 0.022) & (width > 0.40) & (width < wall + 0.02)
    scene.density[band] += 0.045

    # Clavicles: run from the sternal notch out and slightly up to the shoulders.
    centre = 0.02 - 0.16 * (width - 0.12) + 0.10 * (width - 0.55) ** 2
    clavicle = (np.abs(v - centre) < 0.035) & (width > 0.10) & (width < 1.05) & body
    scene.density[clavicle] += 0.16

    # Humeral heads at the top corners when the film includes them.
    for side in SIDES:
        s = side_sign(side)
        head = ((u - s * 1.30) / 0.22) ** 2 + ((v + 0.10) / 0.16) ** 2 < 1.0
        scene.density[head & body] += 0.20
