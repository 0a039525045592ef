"""The media core stands alone: importing every module of cradle/media loads no Django.

The modules are found by walking the package, not listed, so that a stage added later is guarded from its first day.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.nodb

CHECK = """
import importlib, json, pkgutil, sys
import cradle.media
names = sorted(m.name for m in pkgutil.walk_packages(cradle.media.__path__, "cradle.media."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "django": sorted(m for m in sys.modules if m.split(".")[0] == "django")}))
"""


def test_media_core_imports_no_django():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    # The walk reached the stages and their subpackages (a walk that found nothing would prove nothing).
    assert {"cradle.media.command", "cradle.media.redact.faces", "cradle.media.trace.search"} <= set(found["modules"])
    assert not found["django"], f"django imported by the media core: {found['django'][:5]}"
