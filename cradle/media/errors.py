"""Errors of the media core that a person will read."""

from __future__ import annotations


class MediaError(Exception):
    """A problem with a camera, a video file or a camera configuration; the message is one sentence."""


class DetectorFailed(Exception):
    """The detector could not vouch for a frame (it raised, stalled or was overloaded)."""
