"""What the hospital's monitoring asks of a web process: is it ready to serve, and its metrics.

`/healthz` (cradle.web.views) says only that the process answers; a load balancer restarts it when that fails.
`/readyz` checks what a page needs (database, master key, segment storage, cache, and the queue on Redis) and
answers 503 with a one-word reason per check when one fails, so that traffic goes elsewhere until it passes. It names
no host, path or secret. `/metrics` is for the machine itself or a bearer of CRADLE_METRICS_TOKEN only.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import shutil
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from cradle import metrics, tasks
from cradle.media.store import MasterKey, MasterKeyError

# A request that came through a proxy says so in one of these; /metrics is not for those without the token.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def _database() -> str:
    """ "ok" only when the database takes a write: a read-only database serves no page that audits."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return "unreachable"
    try:
        # A write that changes nothing, rolled back: SQLite takes its write lock (refused on a read-only file or a
        # full disk); PostgreSQL refuses it in a read-only transaction or on a standby.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE django_migrations SET app = app WHERE id = 0")
            transaction.set_rollback(True)
    except Exception:
        return "read_only"
    return "ok"


def _free_space() -> str:
    """ "full" when the disk of the media or of the SQLite database has less room than CRADLE_MIN_FREE_MB."""
    folders = [] if settings.STORAGE_URL else [Path(settings.MEDIA_DIR)]
    if connection.vendor == "sqlite":
        folders.append(Path(str(connection.settings_dict["NAME"])).parent)
    needed = settings.CRADLE.min_free_mb * 1024 * 1024
    for folder in folders:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            if shutil.disk_usage(folder).free < needed:
                return "full"
        except OSError:
            return "unreadable"
    return "ok"


def _master_key() -> str:
    try:
        MasterKey.load(settings.MASTER_KEY_FILE)
    except MasterKeyError:
        return "unusable"
    except OSError:
        return "unreadable"
    return "ok"


def _storage() -> str:
    from cradle.viewing.storage import segment_store

    try:
        segment_store().check()
    except MasterKeyError:
        return "mismatch"
    except Exception:
        return "unreachable"
    return _free_space()


def _cache() -> str:
    probe = secrets.token_hex(8)
    try:
        cache.set("cradle:readyz", probe, 30)
        return "ok" if cache.get("cradle:readyz") == probe else "inconsistent"
    except Exception:
        return "unreachable"


def _queue() -> str:
    """ "ok" when Redis answers and at least one `cradle queue` is registered on it; "no_worker" otherwise."""
    import django_rq
    from rq import Worker

    try:
        redis = django_rq.get_connection("default")
        redis.ping()
        workers = Worker.count(connection=redis)
    except Exception:
        return "unreachable"
    return "ok" if workers else "no_worker"


def checks() -> dict[str, str]:
    """Each check's one-word result; "ok" when it passed."""
    results = {"database": _database(), "master_key": _master_key(), "storage": _storage(), "cache": _cache()}
    if not tasks.in_database():
        results["queue"] = _queue()
    return results


# A queue without a worker is named, but does not take this web process out of service: families can still watch
# while traces and daily clips wait. An unreachable Redis does (it is also the cache and the rate limits).
NOT_BLOCKING = {("queue", "no_worker")}


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    results = checks()
    ready = all(v == "ok" or (k, v) in NOT_BLOCKING for k, v in results.items())
    return JsonResponse({"ready": ready, "checks": results}, status=200 if ready else 503)


def may_read_metrics(request: HttpRequest) -> bool:
    """The bearer of the metrics token, or a client on this machine that did not come through a proxy."""
    token = settings.CRADLE.metrics_token
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if any(request.META.get(h) for h in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not may_read_metrics(request):
        return HttpResponse("Not found", status=404, content_type="text/plain")
    from cradle.unit import camera_health

    body, content_type = metrics.exposition()
    return HttpResponse(body + camera_health.exposition(), content_type=content_type)
