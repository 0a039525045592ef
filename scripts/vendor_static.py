"""Copies the front-end files Cradle serves itself from node_modules into cradle/static/vendor/.

`make setup` runs it after `npm ci`. The pages allow scripts from their own origin only (script-src 'self'), so a
library the browser needs is served from Cradle's static files rather than from a CDN.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "cradle" / "static" / "vendor"

# (path under node_modules, path under cradle/static/vendor). The player loads hls.js and starts its transmuxing
# worker from the same origin (workerPath), which a strict CSP allows.
VENDORED: list[tuple[str, str]] = [
    ("hls.js/dist/hls.min.js", "hls.min.js"),
    ("hls.js/dist/hls.worker.js", "hls.worker.js"),
]


def vendor() -> int:
    """Copies every listed file; gives 1 with a message if one is missing, 0 otherwise."""
    for source, target in VENDORED:
        src = NODE_MODULES / source
        if not src.is_file():
            print(f"{src} is missing; run `npm ci` first.", file=sys.stderr)
            return 1
        dst = VENDOR / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return 0


if __name__ == "__main__":
    sys.exit(vendor())
