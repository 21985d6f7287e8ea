"""``fnad.scipy``: SciPy's special functions and distributions, traceable and differentiable.

SciPy's special functions are NumPy ufuncs, so ``scipy.special.gammaln(x)`` on a traced
``x`` works too: importing this package routes those ufuncs to ``fnad.scipy.special``.
"""

from fnad.scipy import special, stats  # noqa: F401
