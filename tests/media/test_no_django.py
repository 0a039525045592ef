"""The media core stands alone: importing every stage loads no Django."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.nodb

STAGES = [
    "command",
    "encode",
    "frames",
    "scenes",
    "sim",
    "source",
    "redact",
    "redact.faces",
    "redact.text",
    "trace",
    "trace.search",
    "trace.framing",
    "trace.mapping",
    "trace.timing",
    "trace.registration",
    "trace.reading",
    "trace.attribution",
]


def test_media_core_imports_no_django():
    code = "import sys\n" + "".join(f"import cradle.media.{m}\n" for m in STAGES)
    code += "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
