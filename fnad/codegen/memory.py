"""Large arrays allocated inside generated code, backed by transparent huge pages.

NumPy asks the kernel for huge pages (``madvise(MADV_HUGEPAGE)``) on every large array, so
that writing a fresh 80 MB result costs a few hundred page faults instead of twenty
thousand. Numba's allocator does not, and on a system whose huge-page policy is ``madvise``
the page faults cost several times the loop that fills the array. ``advise`` gives arrays
allocated by fused loops the same treatment; it is a no-op where ``madvise`` fails.
"""

from __future__ import annotations

import sys

from numba import njit, types

_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14  # Linux; elsewhere the call is skipped
_LINUX = sys.platform.startswith("linux")
_madvise = types.ExternalFunction("madvise", types.intc(types.uintp, types.uintp, types.intc))


@njit(cache=True, nogil=True)
def advise(a):
    """``a`` itself, its whole huge pages advised for transparent huge page backing."""
    if _LINUX and a.nbytes >= 2 * _HUGE_PAGE:
        start = (a.ctypes.data + _HUGE_PAGE - 1) & ~(_HUGE_PAGE - 1)
        end = (a.ctypes.data + a.nbytes) & ~(_HUGE_PAGE - 1)
        _madvise(start, end - start, _MADV_HUGEPAGE)
    return a
