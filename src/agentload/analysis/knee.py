"""Knee of a curve (Kneedle): where adding more load stops paying off.

Method (Satopää, Albrecht, Irwin, Raghavan: "Finding a 'Kneedle' in a Haystack: Detecting
Knee Points in System Behavior", ICDCS workshops 2011; the algorithm ``kneed`` implements):

1. Normalise x and y to [0, 1] (min-max).
2. The difference curve: how far each point lies from the chord (``x_n`` for an increasing
   curve, ``1 - x_n`` for a decreasing one) on the curve's side: ``d = y_n - chord`` for a
   concave curve, ``chord - y_n`` for a convex one (Kneedle's flips, which turn elbows into
   knees, written out).
3. The knee is the point where ``d`` is largest.

This is the offline variant on the raw points (no smoothing spline): sweeps have a handful of
points, too few for Kneedle's online threshold ``d_max - S * mean(diff(x_n))`` (with three
points it can never fire). ``score`` = d at the knee, in [0, 1]: 0 for a straight line (no
knee: None), near 1 for a sharp corner. ``curve`` and ``direction`` are inferred when "auto":
direction from the end points, curve from the side of the chord where most of the curve lies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Curve = Literal["concave", "convex", "auto"]
Direction = Literal["increasing", "decreasing", "auto"]


@dataclass(frozen=True, slots=True)
class Knee:
    index: int  # into the points as given (after sorting by x)
    x: float
    y: float
    score: float  # the normalised distance above the chord, 0..1
    curve: Literal["concave", "convex"]
    direction: Literal["increasing", "decreasing"]


def find_knee(
    x: Sequence[float] | npt.NDArray[np.float64],
    y: Sequence[float] | npt.NDArray[np.float64],
    *,
    curve: Curve = "auto",
    direction: Direction = "auto",
    min_score: float = 1e-9,
) -> Knee | None:
    """The knee of y(x), or None for fewer than 3 points, a flat or straight curve."""
    if len(x) != len(y):
        raise ValueError("x and y must have the same length")
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("x and y must be finite")
    if len(xs) < 3:
        return None
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    x_span, y_span = xs[-1] - xs[0], float(ys.max() - ys.min())
    if x_span <= 0 or y_span <= 0:
        return None
    xn = (xs - xs[0]) / x_span
    yn = (ys - ys.min()) / y_span
    if direction == "auto":
        direction = "increasing" if ys[-1] >= ys[0] else "decreasing"
    # The chord from the first point to the last, in normalised space.
    chord = xn if direction == "increasing" else 1.0 - xn
    if curve == "auto":
        curve = "concave" if float(np.sum(yn - chord)) >= 0 else "convex"
    difference = yn - chord if curve == "concave" else chord - yn
    index = int(np.argmax(difference))
    score = float(difference[index])
    if score < min_score:
        return None
    return Knee(
        index=int(order[index]),
        x=float(xs[index]),
        y=float(ys[index]),
        score=score,
        curve=curve,
        direction=direction,
    )
