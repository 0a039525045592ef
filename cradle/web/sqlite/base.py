"""Django's SQLite backend, with a connection that failed dropped at the end of its request.

Django keeps a connection open for CONN_MAX_AGE and, after an error, keeps it when its transaction rolled back
cleanly, or when `is_usable()` says so, which SQLite's backend always does. A connection opened while the file was
read-only (or whose disk was full) then stays so for up to a minute after the fault is fixed, answering every request
with an error. Here any database error marks the connection, which is closed at the end of the request: the next
request opens a fresh one, so recovery takes one request.

SQLite also gives the journal files it creates the mode of the database file: created while the file was read-only,
they stay read-only after the file is made writable again. A new connection to a writable database file gives them
the file's mode back (they are Cradle's own files).
"""

from __future__ import annotations

import contextlib
import os
import stat

from django.db.backends.sqlite3 import base
from django.db.utils import DatabaseErrorWrapper
from django.utils.functional import cached_property


class _MarkingErrors(DatabaseErrorWrapper):
    """Marks the connection failed on any driver error but a constraint or data error (which say nothing of it)."""

    wrapper: DatabaseWrapper  # set by DatabaseErrorWrapper.__init__, which the stubs leave untyped

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        driver = self.wrapper.Database
        if (
            exc_type is not None
            and issubclass(exc_type, driver.Error)
            and not issubclass(exc_type, (driver.IntegrityError, driver.DataError))
        ):
            self.wrapper.failed = True
        return super().__exit__(exc_type, exc_value, traceback)


class DatabaseWrapper(base.DatabaseWrapper):
    failed = False

    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return _MarkingErrors(self)

    def is_usable(self) -> bool:
        # Asked only after an error occurred on this connection (close_if_unusable_or_obsolete).
        return False

    def close_if_unusable_or_obsolete(self) -> None:
        if self.connection is not None and self.failed:
            self.failed = False
            self.close()
            return
        super().close_if_unusable_or_obsolete()

    def get_new_connection(self, conn_params: dict):
        self.failed = False
        name = str(conn_params.get("database", ""))
        with contextlib.suppress(OSError):
            if name and os.access(name, os.W_OK):
                mode = stat.S_IMODE(os.stat(name).st_mode)
                for suffix in ("-wal", "-shm"):
                    journal = name + suffix
                    if os.path.exists(journal) and not os.access(journal, os.W_OK):
                        os.chmod(journal, mode)
        return super().get_new_connection(conn_params)
