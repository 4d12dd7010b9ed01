"""Seeds for the private random generators.

``random_state`` drives every generator a fit uses (weight initialisation,
shuffling, noise, the early-stopping split) through seeds drawn here. None
draws them from fresh operating-system entropy (numpy's ``SeedSequence``),
not from numpy's global ``RandomState`` as scikit-learn's
``check_random_state(None)`` would: no global generator is read or advanced,
so ``np.random.seed`` does not make such fits repeatable; pass an int.
"""

import numpy as np
from sklearn.utils import check_random_state

_SEED_LIMIT = np.iinfo(np.int32).max


def draw_seeds(random_state, n):
    """``n`` ints in [0, 2**31 - 1) from ``random_state`` (None, an int or a
    ``RandomState``, which is advanced as scikit-learn does)."""
    if random_state is None:
        entropy = np.random.SeedSequence().generate_state(n, dtype=np.uint64)
        return [int(s % _SEED_LIMIT) for s in entropy]
    rng = check_random_state(random_state)
    return [int(s) for s in rng.randint(_SEED_LIMIT, size=n)]
