"""The compile cache: generated modules as real ``.py`` files, so Numba's ``cache=True``
stores their machine code beside them and a new process starts warm.

Entries live in ``FNAD_CACHE_DIR`` (default: the user's cache directory; ``off`` keeps
everything in memory). A file is named by the digest of its source and of the versions of
fnad, Numba, NumPy, Python and the CPU, is written atomically (temporary file, then
rename) into a user-only directory, and is checked against the source before use, so a
truncated or corrupt entry is rewritten. Numba's own ``.nbi``/``.nbc`` files, read on a
function's first call, are guarded too: a broken one is flushed and the code recompiled.
An unwritable directory degrades to memory with one warning. One of fnad's three pieces of
global state.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pickle
import platform
import sys
import tempfile
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
from numba.core.caching import Cache
from numba.core.dispatcher import Dispatcher

_MODULES: dict[str, dict] = {}  # digest -> the namespace of the compiled module
_WARNED: set[str] = set()
_FNAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: What unpickling a truncated or overwritten Numba cache file raises.
_BROKEN_MACHINE_CODE = (pickle.UnpicklingError, EOFError)


def environment_key() -> str:
    from llvmlite import binding

    import fnad

    parts = (
        fnad.__version__,
        numba.__version__,
        np.__version__,
        sys.version,
        platform.machine(),
        binding.get_host_cpu_name(),
        _math_digest(),
    )
    return "|".join(parts)


@functools.cache
def _math_digest() -> str:
    """A digest of the fnad.codegen modules whose functions generated kernels inline."""
    codegen = Path(_FNAD_DIR) / "codegen"
    text = b"".join(
        (codegen / name).read_bytes()
        for name in ("vmath.py", "vmath32.py", "vtrig.py", "vtrig32.py", "memory.py", "gemm.py")
    )
    return hashlib.sha256(text).hexdigest()[:16]


def cache_dir() -> Path | None:
    """The cache directory, or None when caching on disk is off."""
    setting = os.environ.get("FNAD_CACHE_DIR")
    if setting is not None and setting.strip().lower() in ("off", "0", "none", ""):
        return None
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fnad"


def digest(source: str) -> str:
    return hashlib.sha256(f"{environment_key()}\n{source}".encode()).hexdigest()[:32]


def is_loaded(source: str) -> bool:
    """Whether this process already holds the compiled module of ``source``."""
    return digest(source) in _MODULES


def load(source: str, function: str) -> Callable:
    """The compiled ``function`` of ``source``, from memory, disk or a fresh compile."""
    key = digest(source)
    namespace = _MODULES.get(key)
    if namespace is None:
        namespace = _load_file(source, key) or _load_memory(source, key)
        _MODULES[key] = namespace
    return namespace[function]


def _load_memory(source: str, key: str) -> dict:
    namespace: dict = {"__name__": f"fnad_mem_{key}"}
    exec(compile(source.replace("cache=True", "cache=False"), f"<fnad {key}>", "exec"), namespace)
    return namespace


def _user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first caller outside fnad."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_FNAD_DIR + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_file(source: str, key: str) -> dict | None:
    directory = cache_dir()
    if directory is None:
        return None
    path = directory / f"fnad_{key}.py"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            intact = path.read_text() == source
        except (OSError, UnicodeDecodeError):
            intact = False
        if not intact:
            _write_atomic(path, source)
    except OSError as exc:
        if str(directory) not in _WARNED:
            _WARNED.add(str(directory))
            warnings.warn(
                f"fnad: cannot write the compile cache at {directory} ({exc}); "
                "compiled code is kept in memory only",
                RuntimeWarning,
                # NOTE: the depth differs between jit's call path and Lowered.compile.
                stacklevel=_user_stacklevel(),
            )
        return None
    name = f"fnad_gen_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # NOTE: Numba's cache re-imports the module by name when it loads machine code.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    guard_machine_code(module)
    return vars(module)


def guard_machine_code(module: types.ModuleType) -> None:
    """Make a broken Numba cache file of ``module``'s functions (and of the fnad modules
    it imports) a cache miss: Numba itself raises ``UnpicklingError`` instead of
    recompiling when a ``.nbi``/``.nbc`` file was truncated."""
    for value in list(vars(module).values()):
        if isinstance(value, types.ModuleType) and value.__name__.startswith("fnad."):
            for inner in list(vars(value).values()):
                _guard(inner)
        else:
            _guard(value)


def _guard(value: object) -> None:
    cache = getattr(value, "_cache", None)
    guarded = "load_overload" in vars(cache or object)
    if isinstance(value, Dispatcher) and isinstance(cache, Cache) and not guarded:
        cache.load_overload = functools.partial(_load_or_flush, cache, cache.load_overload)


def _load_or_flush(cache: Cache, load: Callable, sig, target_context) -> object | None:
    try:
        return load(sig, target_context)
    except _BROKEN_MACHINE_CODE:
        # NOTE: an empty index makes this a miss; the recompiled code then overwrites the
        # broken data file, which the new index numbers first.
        cache.flush()
        return None
