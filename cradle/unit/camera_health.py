"""Each camera's health in /metrics, read from what its pipeline last reported (Camera rows), so that a camera whose
worker died reads as not connected rather than keeping its last figures."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from cradle.unit.models import Camera


class CameraHealth:
    """A collector over the cameras in service: connected (0/1), frames per second, privacy-screen share, error."""

    def collect(self):
        connected = GaugeMetricFamily(
            "cradle_camera_connected",
            "1 while the camera's pipeline reports its picture (fresh heartbeat).",
            labels=["camera"],
        )
        fps = GaugeMetricFamily(
            "cradle_camera_measured_fps", "Frames per second the camera's pipeline last delivered.", labels=["camera"]
        )
        share = GaugeMetricFamily(
            "cradle_camera_privacy_screen_share",
            "Share of the camera's frames of about the last minute that were a privacy screen (0 to 1).",
            labels=["camera"],
        )
        error = GaugeMetricFamily(
            "cradle_camera_error",
            "1 while the camera reports an error (its words are on the camera's page).",
            labels=["camera"],
        )
        for camera in Camera.objects.filter(retired_at__isnull=True, bed__isnull=False).only(
            "pk", "state", "seen_at", "measured_fps", "screened_share", "last_error"
        ):
            label = [str(camera.pk)]
            state = camera.reported_state
            connected.add_metric(label, 1.0 if state in (Camera.State.LIVE, Camera.State.CHECKING) else 0.0)
            fps.add_metric(label, camera.measured_fps if state != Camera.State.OFFLINE else 0.0)
            share.add_metric(label, camera.screened_share)
            error.add_metric(label, 1.0 if camera.last_error and state != Camera.State.OFFLINE else 0.0)
        return [connected, fps, share, error]


def exposition() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CameraHealth())
    return generate_latest(registry)
