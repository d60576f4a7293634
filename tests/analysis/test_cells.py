"""How a percentage reads in every report table (analysis.cells.pct)."""

from __future__ import annotations

import math

from analysis.cells import EMPTY, pct


def test_a_value_that_rounds_to_zero_has_no_sign() -> None:
    assert pct(-0.04, signed=True) == pct(-0.0) == pct(0.0, signed=True) == pct(0.04) == "0.0"
    assert pct(-0.06, signed=True) == "-0.1" and pct(0.06, signed=True) == "+0.1"
    assert pct(99.94) == "99.9" and pct(math.nan) == EMPTY
