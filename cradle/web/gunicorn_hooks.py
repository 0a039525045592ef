"""gunicorn hooks for `cradle serve`: a web worker that ends takes its live metrics with it."""

from __future__ import annotations


def when_ready(server) -> None:
    from cradle import metrics

    metrics.forget_dead_processes()


def child_exit(server, worker) -> None:
    from cradle import metrics

    metrics.process_ended(worker.pid)
