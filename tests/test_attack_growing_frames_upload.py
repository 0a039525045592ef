"""Attack: a privacy officer is handed a "suspect" whose header says 640 x 480 but whose frames grow to 12000 x 12000
(an MJPEG stream may change size at every frame). The size cap read only the header, so the worker decoded the huge
frames (+280 MB resident). Every frame's size must be checked before it is decoded."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from cradle.forensics import tracing


def _growing_mjpeg(path, last_side: int = 12000) -> None:
    small = cv2.imencode(".jpg", np.full((480, 640), 90, np.uint8))[1].tobytes()
    huge = cv2.imencode(".jpg", np.full((last_side, last_side), 90, np.uint8))[1].tobytes()
    path.write_bytes(small * 30 + huge * 3)


@pytest.mark.nodb
def test_a_suspect_whose_frames_grow_past_4k_is_refused_in_one_line(tmp_path):
    suspect = tmp_path / "grow.mjpeg"
    _growing_mjpeg(suspect)
    with pytest.raises(tracing.TraceError) as refused:
        tracing.load_suspect(suspect)
    assert "larger than 4K" in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.nodb
def test_refusing_it_costs_no_more_memory_than_a_small_clip(tmp_path):
    """Measured in a process of its own: the peak resident size while the growing suspect is refused."""
    suspect = tmp_path / "grow.mjpeg"
    _growing_mjpeg(suspect)
    probe = (
        "import sys, django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'cradle.settings'); django.setup()\n"
        "from cradle.forensics import tracing\n"
        "def kib(field):\n"
        "    line = next(x for x in open('/proc/self/status') if x.startswith(field + ':'))\n"
        "    return int(line.split()[1])\n"
        "open('/proc/self/clear_refs', 'w').write('5')  # the peak starts again from what is resident now\n"
        "before = kib('VmRSS')\n"
        "try:\n    tracing.load_suspect(sys.argv[1])\nexcept tracing.TraceError:\n    pass\n"
        "print(kib('VmHWM') - before)\n"
    )
    grown_kib = int(subprocess.run([sys.executable, "-c", probe, str(suspect)], capture_output=True, text=True,
                                   check=True, env={"CRADLE_DATA_DIR": str(tmp_path / "data"),
                                                    "PATH": "/usr/bin:/bin"}).stdout.strip())  # fmt: skip
    # One 12000 x 12000 picture alone is 144 MB in grey, 216 MB in YUV: refused before decoding, the probe grows
    # by what thirty small frames take.
    assert grown_kib < 64 * 1024, f"refusing the suspect grew the process by {grown_kib // 1024} MB"
