"""The leak drill: ten accounts watch the same clip through Cradle's delivery; one copy leaks, re-encoded at 360p and
300 kbit/s with a 5 % crop. `cradle trace` must name that account, and nobody for an unmarked copy."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from cradle.audit.models import Event
from cradle.media.fingerprint import fingerprint_segment
from cradle.media.frames import SafeFrame
from cradle.media.hls import SegmentWriter, decode
from cradle.media.mark import MARK_UNITS
from cradle.media.sim import SimCamera, SimSettings
from cradle.unit.models import FamilyMembership
from cradle.viewing import clips, storage
from cradle.viewing.models import LiveSegment, ServedVariant
from cradle.viewing.variants import code
from tests.conftest import QUICK_HASHERS, Family, World, make_user, sign_in
from tests.drill import leaked_copy, mp4_bytes

FPS = 15
SECONDS = 16
VIEWERS = 10
LEAKER = 4

# Every test runs in a savepoint of its own, inside the module's transaction that holds the drill.
pytestmark = pytest.mark.django_db


@dataclass
class Drill:
    world: World
    fam: Family
    served: list[list[bytes]]  # the segments each viewer fetched, in playing order
    references: dict[int, list[np.ndarray]]  # the clip's unmarked frames by segment

    def watched(self, viewer: int) -> list[np.ndarray]:
        """The frames `viewer` saw."""
        return [frame for data in self.served[viewer] for frame in decode(data)]


@pytest.fixture
def world(module_world, db):
    """The module's ward: the drill is built on it once, for every test here."""
    return module_world


@pytest.fixture(scope="module")
def drill(module_world, django_db_blocker) -> Drill:
    """A 16 s clip of family A's camera, made and stored as the worker does, and ten relatives who watched it.

    Built once per module (about ten seconds of encoding and decoding); the tests only read it, and their own changes
    roll back with their savepoints.
    """
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=QUICK_HASHERS):
        return _drill(module_world)


def _drill(world: World) -> Drill:
    fam = world.families["a"]
    camera = fam.bed.camera
    LiveSegment.objects.filter(camera=camera).delete()
    sim = SimCamera(SimSettings(bed="drill", lang="zh", seed=21, fps=FPS))
    writer = SegmentWriter(storage.mark_key(), str(camera.pk), 640, 480, FPS)
    store = storage.segment_store()
    store.admit(fam.admission.media_id)
    made = []
    for i in range(SECONDS * FPS):
        made += writer.write(SafeFrame(sim.frame(i).image, i, i * 6000, Fraction(1, 90000), 0.0, False))
    references = {}
    for segment in made:
        for variant, data in segment.objects().items():
            store.put(fam.admission.media_id, str(camera.pk), segment.index, variant, data)
        references[segment.index] = decode(segment.reference)
        LiveSegment.objects.create(
            camera=camera,
            admission=fam.admission,
            index=segment.index,
            started_at=timezone.now(),
            duration=segment.duration,
            fingerprint=fingerprint_segment(references[segment.index]).tobytes(),
            units=len(segment.units),
        )
    clip = clips.record(fam.admission, 60)
    served = []
    for v in range(VIEWERS):
        viewer = make_user(f"viewer{v}", totp=True)
        FamilyMembership.objects.create(user=viewer, admission=fam.admission, role="relative")
        client = Client()
        sign_in(client, viewer)
        playlist = client.get(reverse("clip_playlist", args=[clip.pk])).content.decode()
        segments = []
        for url in [line for line in playlist.splitlines() if line and not line.startswith("#")]:
            response = client.get(url)
            assert response.status_code == 200
            segments.append(response.content)
        served.append(segments)
    _check_ledger(camera, made, served)
    return Drill(world, fam, served, references)


def _check_ledger(camera, made, served) -> None:
    """Every segment a viewer got is the variants the ledger names for that account: tracing reads nothing else."""
    choices = ["".join(c) for c in itertools.product("AB", repeat=MARK_UNITS)]
    variants = {segment.variant(c): (segment.index, code(c)) for segment in made for c in choices}
    for v, segments in enumerate(served):
        ledger = dict(
            ServedVariant.objects.filter(user__username=f"viewer{v}", camera=camera).values_list("index", "variant")
        )
        got = [variants.get(data, (None, None)) for data in segments]
        assert all(index is not None for index, _ in got), f"viewer{v} got bytes that are neither variant"
        assert ledger == dict(got), f"viewer{v}: served {dict(got)}, ledger {ledger}"


def write_mp4(path, frames):
    path.write_bytes(mp4_bytes(frames))
    return str(path)


def leak(images, width, height, bitrate, crop):
    """A leaker's 25 fps copy of frames served at the camera's rate."""
    return leaked_copy(images, FPS, width, height, bitrate, crop, fps=25)


def trace(*paths) -> dict:
    out = io.StringIO()
    call_command("trace", *paths, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_trace_names_the_account_whose_copy_leaked(drill, tmp_path):
    copy = leak(drill.watched(LEAKER)[6:], 480, 360, 300_000, 0.05)  # 360p, 300 kbit/s, 5 % crop, 25 fps
    report = trace(write_mp4(tmp_path / "leak.mp4", copy))
    assert report["verdict"] == "identified", report
    assert report["account"] == f"viewer{LEAKER}"
    best = report["candidates"][0]
    assert best["p_innocent"] < 1e-4 and best["readable"] >= 14
    suspect = report["suspects"][0]
    assert suspect["camera"] == drill.fam.bed.camera.pk and 0.3 < suspect["offset_s"] < 0.5
    bits = {(x["z"] >= 4, x["z"] <= -4, x["bit"]) for x in suspect["segments"]}
    assert bits <= {(True, False, "A"), (False, True, "B"), (False, False, None)} and len(bits) >= 2, bits
    assert Event.objects.filter(action="trace.run", detail__verdict="identified").exists()


@pytest.mark.heavy_media
def test_an_unmarked_copy_names_nobody(drill, tmp_path):
    import cv2

    references = drill.references
    unmarked = [cv2.resize(f, (640, 480)) for i in sorted(references) for f in references[i]]
    report = trace(write_mp4(tmp_path / "unmarked.mp4", leak(unmarked, 480, 360, 300_000, 0.05)))
    assert report["verdict"] == "inconclusive" and report["account"] is None


@pytest.mark.heavy_media
def test_a_clip_cradle_never_served_has_no_matching_source(drill, tmp_path):
    other = SimCamera(SimSettings(bed="elsewhere", lang="en", seed=99, fps=FPS))
    frames = [other.frame(i).image for i in range(5 * FPS)]
    report = trace(write_mp4(tmp_path / "other.mp4", leak(frames, 480, 360, 300_000, 0.0)))
    assert report["verdict"] == "inconclusive" and report["account"] is None
    assert "no matching source" in report["suspects"][0]["note"]


def test_bad_input_gets_one_line_and_no_accusation(db, tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video")
    for name in ("empty.mp4", "text.mp4", "missing.mp4"):
        with pytest.raises(CommandError) as e:
            call_command("trace", str(tmp_path / name))
        assert "\n" not in str(e.value)
    assert not Event.objects.filter(action="trace.run", outcome="ok").exists()


def test_a_unit_traces_among_its_own_cameras_only(drill, world):
    from cradle.forensics import tracing

    assert len(tracing._index(world.unit1.pk)) == SECONDS
    assert len(tracing._index(world.unit2.pk)) == 0


def test_big_long_or_truncated_suspects_are_refused_or_kept_small(db, tmp_path):
    import cv2

    from cradle.forensics import tracing

    noise = np.random.default_rng(3).integers(0, 255, (1, 64, 64, 3), dtype=np.uint8)
    long = tmp_path / "long.mp4"
    long.write_bytes(mp4_bytes(list(noise) * (16 * 60), fps=1))  # sixteen minutes at one frame a second
    with pytest.raises(tracing.TraceError, match="longer than 15 minutes"):
        tracing.load_suspect(long)

    # A smooth HD picture: what matters is its size, and pixel noise at that size only makes the codec slow.
    blobs = np.random.default_rng(4).integers(0, 255, (30, 9, 16, 3), dtype=np.uint8)
    hd = mp4_bytes([cv2.resize(b, (1280, 720), interpolation=cv2.INTER_LINEAR) for b in blobs], fps=25)
    assert len(hd) > 5000  # so that the cut below really cuts
    (tmp_path / "hd.mp4").write_bytes(hd)
    frames, fps = tracing.load_suspect(tmp_path / "hd.mp4")
    assert fps == 25 and len(frames) == 30 and frames[0].ndim == 2  # grey
    height, width = frames[0].shape  # no more pixels than the camera's picture, in the suspect's own shape
    assert height * width <= 640 * 480 and abs(width / height - 1280 / 720) < 0.01

    (tmp_path / "cut.mp4").write_bytes((tmp_path / "hd.mp4").read_bytes()[:5000])
    with pytest.raises(CommandError) as e:
        call_command("trace", str(tmp_path / "cut.mp4"))
    assert "\n" not in str(e.value)
    assert not Event.objects.filter(action="trace.run", outcome="ok").exists()
