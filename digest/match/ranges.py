"""Many index ranges at once, in numpy: the gather step of batch matching (rows of a key, of a
clause, of a hash group, of a paper's hits).

Public: :func:`ranges`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["ranges"]

Ints = npt.NDArray[np.int64]


def ranges(starts: Ints, lengths: Ints) -> tuple[Ints, Ints]:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])`` without a Python
    step per range, and for each index the number of the range it came from."""
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(len(owner), dtype=np.int64) + shift, owner
