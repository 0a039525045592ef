"""The `cradle` command."""

from __future__ import annotations

import os
import sys

# Commands that run without Django (the media core is Django-free).
MEDIA_COMMANDS = {"redact"}
# Long-running processes whose metrics /metrics reports together (cradle/metrics.py).
METRICS_COMMANDS = {"serve", "worker", "queue", "demo"}


def _share_metrics() -> None:
    """Points every process at one metrics folder in the data folder, unless the hospital has chosen another.

    This has to happen before prometheus_client is first imported, which decides then how it keeps its figures.
    """
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return
    from cradle.settings import DATA_DIR

    folder = DATA_DIR / "metrics"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in MEDIA_COMMANDS:
        from cradle.media.command import main as media_main

        return media_main(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cradle.settings")
    if argv and argv[0] in METRICS_COMMANDS:
        _share_metrics()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["cradle", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())
