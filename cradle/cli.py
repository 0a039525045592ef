"""The `cradle` command."""

from __future__ import annotations

import os
import sys

# Commands that run without Django (the media core is Django-free).
MEDIA_COMMANDS = {"redact"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in MEDIA_COMMANDS:
        from cradle.media.command import main as media_main

        return media_main(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cradle.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["cradle", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())
