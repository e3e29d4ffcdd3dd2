"""The distinct values of an integer array, by one sort.

NumPy 2.4's ``np.unique(values)`` (without ``return_inverse`` or ``return_counts``) hashes integers and is
15-20x slower than sorting them: 0.65 s against 0.03 s for 1,000,000 uint32 here, 2.1 s against 0.14 s for
2,500,000 int64. Hot paths (a commit's label check, a completion's pairs) call this instead.
"""

from __future__ import annotations

import numpy as np


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``: the distinct values, ascending."""
    ordered = np.sort(np.asarray(values))
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered
