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

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from cradle import metrics, tasks
from cradle.media.store import MasterKey, MasterKeyError

# A request that came through a proxy says so in one of these; /metrics is not for those without the token.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return "unreachable"
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
    return "ok"


def _cache() -> str:
    probe = secrets.token_hex(8)
    try:
        cache.set("cradle:readyz", probe, 30)
        return "ok" if cache.get("cradle:readyz") == probe else "inconsistent"
    except Exception:
        return "unreachable"


def _queue() -> str:
    import django_rq

    try:
        django_rq.get_connection("default").ping()
    except Exception:
        return "unreachable"
    return "ok"


def checks() -> dict[str, str]:
    """Each check's one-word result; "ok" when it passed."""
    results = {"database": _database(), "master_key": _master_key(), "storage": _storage(), "cache": _cache()}
    if not tasks.in_database():
        results["queue"] = _queue()
    return results


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    results = checks()
    ready = all(v == "ok" for v in results.values())
    return JsonResponse({"ready": ready, "checks": results}, status=200 if ready else 503)


def may_read_metrics(request: HttpRequest) -> bool:
    """The bearer of the metrics token, or a client on this machine that did not come through a proxy."""
    token = settings.CRADLE.get("METRICS_TOKEN", "")
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
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
