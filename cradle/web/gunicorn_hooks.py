"""gunicorn hooks for `cradle serve`: a web worker that ends takes its live metrics with it."""

from __future__ import annotations


def when_ready(server) -> None:
    from cradle import metrics

    metrics.forget_dead_processes()


def child_exit(server, worker) -> None:
    from cradle import metrics

    metrics.process_ended(worker.pid)


def post_worker_init(worker) -> None:
    """Loads every view, then leaves what loading made out of the garbage collector's full passes.

    Those objects (about 110,000: Django, the URL map, the media libraries) live as long as the worker, yet each full
    pass walked all of them, about 80 ms during which every request queued on this worker waited.
    """
    import gc

    from django.urls import get_resolver

    from cradle.audit import batch

    batch.merge_left_over()  # audit events a stopped process left in the spool are merged by whoever starts next

    get_resolver().url_patterns  # noqa: B018 - imports every view now rather than on the first request
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    worker.log.info("Worker %s ready: views loaded, %d objects kept out of collection", worker.pid, frozen)
