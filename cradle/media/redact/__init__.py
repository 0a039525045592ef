"""Redaction: static zones, detected text and faces, held across frames, behind a fail-closed watchdog."""

from cradle.media.redact.policy import CameraPolicy, load_policy
from cradle.media.redact.pool import DetectorPool
from cradle.media.redact.redactor import Redactor

__all__ = ["CameraPolicy", "DetectorPool", "Redactor", "load_policy"]
