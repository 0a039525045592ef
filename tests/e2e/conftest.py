"""What the browser tests share: the check that the browser tools are there, and running a flow script in node."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT = ROOT / "node_modules" / "playwright-core"


def _browser_missing() -> str | None:
    missing = [str(p) for p in (CHROMIUM, PLAYWRIGHT) if not p.exists()]
    if shutil.which("node") is None:
        missing.append("node")
    if not missing:
        return None
    return f"{', '.join(missing)} not found; run `make setup` (Debian's chromium and `npm ci`) to run browser tests."


@pytest.fixture
def browser_tools() -> None:
    """Skips when the browser tools are missing, except in CI, where that fails the test."""
    reason = _browser_missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests, but {reason}")
    pytest.skip(reason)


def run_flow(script: str, settings: dict[str, str], timeout: float) -> str:
    """Runs tests/e2e/`script` with `settings` in its environment; gives its output, or fails the test with it."""
    env = {**os.environ, **settings}
    try:
        run = subprocess.run(
            ["node", str(ROOT / "tests" / "e2e" / script)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        # The output of a timed-out run comes back as bytes, whatever `text` says.
        output = "\n".join(
            o.decode(errors="replace") if isinstance(o, bytes) else (o or "") for o in (e.stdout, e.stderr)
        )
        pytest.fail(f"The browser flow {script} did not finish within {timeout:.0f} s.\n{output}")
    assert run.returncode == 0, f"The browser flow {script} failed.\n{run.stdout}\n{run.stderr}"
    print(run.stdout)  # the steps and their timings, shown by `pytest -rP`
    return run.stdout
