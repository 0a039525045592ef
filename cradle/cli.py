"""The `cradle` command."""

from __future__ import annotations

import os
import sys

# Commands that run without Django (the media core is Django-free).
MEDIA_COMMANDS = {"redact"}
# Long-running processes whose metrics /metrics reports together (cradle/metrics.py).
METRICS_COMMANDS = {"serve", "worker", "queue", "demo", "adt"}
# Commands that set the database up, or need none. Every other command first checks that `cradle init` (or, after an
# upgrade, `cradle migrate`) has been run, so that none of them starts half-way (a server answering 503s, a worker
# retrying for ever) or stops with a traceback.
SETUP_COMMANDS = {
    "init",
    "migrate",
    "restore",
    "help",
    "version",
    "check",
    "makemigrations",
    "showmigrations",
    "sqlmigrate",
    "compilemessages",
    "makemessages",
    "collectstatic",
}


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
    from cradle.config import ConfigError

    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except ConfigError as e:
        # A variable Cradle cannot use (cradle/config.py): one sentence naming it, before anything starts.
        print(f"cradle: {e}", file=sys.stderr)
        return 1


def _run(argv: list[str]) -> int:
    if argv and argv[0] in MEDIA_COMMANDS:
        from cradle.media.command import main as media_main

        return media_main(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cradle.settings")
    if argv and argv[0] in METRICS_COMMANDS:
        _share_metrics()
    import django
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    from cradle.media.store import MasterKeyError

    try:
        django.setup()
        if (problem := setup_problem(argv)) is not None:
            print(f"cradle: {problem}", file=sys.stderr)
            return 1
        from cradle.audit.creation import acting

        # What the command creates (accounts, units, beds, cameras, admissions) is audited as made by it.
        with acting(f"command:{argv[0]}" if argv else "command"):
            execute_from_command_line(["cradle", *argv])
    except DatabaseError as e:
        print(f"cradle: {database_problem(e)}", file=sys.stderr)
        return 1
    except MasterKeyError as e:
        # Every audited action needs the master key: the audit chain's links are keyed with it.
        print(f"cradle: {e}", file=sys.stderr)
        return 1
    return 0


def setup_problem(argv: list[str]) -> str | None:
    """One sentence when the database is not ready for this command (not set up, or older than the code)."""
    name = argv[0] if argv else "help"
    if name.startswith("-") or name in SETUP_COMMANDS or (name == "demo" and "--code" not in argv):
        return None  # `cradle demo` runs `cradle init` itself
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not pending:
        return None
    if not executor.loader.applied_migrations:
        from django.conf import settings

        if not settings.MASTER_KEY_FILE.exists():
            return (
                f"Cradle is not set up yet: no database, and the master key file {settings.MASTER_KEY_FILE} does not "
                "exist; run `cradle init` first."
            )
        return "Cradle's database is not set up yet; run `cradle init` first."
    return "Cradle's database is older than this version of Cradle; run `cradle migrate` first."


def database_problem(error: Exception) -> str:
    """One sentence for a database error that stops a command: what is wrong and what to do."""
    text = " ".join(str(error).split())
    lowered = text.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return "Cradle's database is not set up yet (or is incomplete); run `cradle init` first."
    if "readonly" in lowered or "read-only" in lowered:
        return "The database is read-only; make it writable for Cradle's user and try again."
    if ("disk" in lowered and ("full" in lowered or "i/o" in lowered)) or "no space" in lowered:
        return "The database cannot be written: its disk is full or failing; free space and try again."
    if any(w in lowered for w in ("connect", "connection", "unable to open", "could not translate", "timeout")):
        reason = text.split("\n")[0][:160]
        return f"The database cannot be reached ({reason}); check DATABASE_URL and that the server runs."
    return f"The database refused the command ({text[:160]})."


if __name__ == "__main__":
    sys.exit(main())
