"""What a privacy officer's landing page shows: what needs them now, not just a greeting."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from cradle.audit.models import Alert
from cradle.unit.models import BreakGlassGrant


@dataclass
class Attention:
    alerts: list[Alert] = field(default_factory=list)
    open_alerts: int = 0
    traces: list = field(default_factory=list)
    grants: list[BreakGlassGrant] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.open_alerts or self.traces or self.grants)


def for_units(unit_ids: set[int]) -> Attention:
    """Unreviewed alerts, leak traces queued or running, and emergency access still open, in these units."""
    from cradle.forensics.models import TraceJob

    open_alerts = Alert.objects.filter(unit_id__in=unit_ids, acknowledged_at__isnull=True)
    running = (TraceJob.Status.QUEUED, TraceJob.Status.RUNNING)
    return Attention(
        alerts=list(open_alerts[:5]),
        open_alerts=open_alerts.count(),
        traces=list(TraceJob.objects.filter(unit_id__in=unit_ids, status__in=running)[:10]),
        grants=list(
            BreakGlassGrant.objects.filter(unit_id__in=unit_ids, expires_at__gt=timezone.now())
            .select_related("user", "unit")
            .order_by("expires_at")
        ),
    )
