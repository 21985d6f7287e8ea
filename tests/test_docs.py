"""Docs and examples run as tests, so they never rot.

Every ```python block of a page in docs/ runs, in order, in one namespace per page (blocks
fenced as ```text are shown, not run). Every script in examples/ runs in a fresh
interpreter and must exit with status 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))
SCRIPTS = sorted((ROOT / "examples").glob("*.py"))

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number of the block's first line of code, code) for each ```python block."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _FENCE.finditer(text)]


def test_fence_parser() -> None:
    text = "intro\n```python\nx = 1\n```\n```text\nnot run\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (9, "y = x\n")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_doc_page(page: Path) -> None:
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert blocks, f"{page.name} has no ```python blocks"
    namespace: dict = {"__name__": f"docs.{page.stem}"}
    for line, code in blocks:
        # NOTE: padding with newlines makes tracebacks and fnad's "at file:line" messages
        # point at the line in the Markdown file.
        source = "\n" * (line - 1) + code
        exec(compile(source, str(page), "exec"), namespace)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script: Path) -> None:
    env = dict(os.environ)
    # Run against this checkout, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{script.name} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
    )
