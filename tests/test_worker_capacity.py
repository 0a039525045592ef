"""A worker knows what it can redact: it measures what a camera costs it, takes only the cameras it can hold, hands
back what it cannot, and a camera no worker can take shows as unavailable on the nurse's board, with the reason."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from cradle.media.redact import DetectorPool
from cradle.media.redact.pool import WardDetectors
from cradle.unit.models import Admission, Camera
from cradle.viewing.models import LiveSegment
from cradle.worker.capacity import (
    CPU_BUDGET,
    MEASURED_UNIT_SECONDS,
    PRIOR_COST,
    Capacity,
    cameras_cpu,
    cameras_held,
)
from cradle.worker.leases import camera_of
from cradle.worker.pipelines import Worker


class NoText:
    def detect(self, image):
        return []


class Machine:
    """A clock and a process CPU time that the test moves on."""

    def __init__(self) -> None:
        self.now = self.cpu = 0.0

    def run(self, seconds: float, cores_busy: float) -> None:
        self.now += seconds
        self.cpu += seconds * cores_busy


def measured(machine: Machine, cores: float = 1.0) -> Capacity:
    return Capacity(cores, cpu=lambda: machine.cpu, clock=lambda: machine.now)


def test_a_worker_counts_the_prior_cost_until_it_has_redacted_enough_to_measure():
    machine = Machine()
    capacity = measured(machine, cores=2.0)
    capacity.note(0.0, 0.0)
    assert capacity.cost == PRIOR_COST and capacity.units() == pytest.approx(2.0 * CPU_BUDGET / PRIOR_COST)
    # The cameras' first seconds (their first looks, all at once) are not measured.
    for _ in range(20):
        machine.run(1.0, 2.0)
        capacity.note(3.0, 0.5, settling=True)
    assert capacity.measured == 0 and capacity.cost == PRIOR_COST
    # Three cameras at 0.2 CPU-s each a second of video, 0.6 of a core.
    for _ in range(int(MEASURED_UNIT_SECONDS / 3) - 1):
        machine.run(1.0, 0.6)
        capacity.note(3.0, 3.0)
    assert capacity.cost == PRIOR_COST
    for _ in range(5):
        machine.run(1.0, 0.6)
        capacity.note(3.0, 3.0)
    assert capacity.cost == pytest.approx(0.2)
    assert capacity.units() == pytest.approx(2.0 * CPU_BUDGET / 0.2)


def test_frames_a_worker_could_not_redact_do_not_make_it_think_it_has_room():
    machine = Machine()
    capacity = measured(machine)
    capacity.note(0.0, 0.0)
    # Six cameras on one core: it is all busy, and half of the frames are repeats and screens (which cost no looks).
    for _ in range(60):
        machine.run(1.0, 1.0)
        capacity.note(6.0, 3.0)
    assert capacity.cost == pytest.approx(1 / 3)
    assert int(capacity.units()) < 6
    # Far behind, it redacts next to nothing, and counts on no more than one camera (not on the prior).
    for _ in range(60):
        machine.run(1.0, 1.0)
        capacity.note(6.0, 0.0)
    assert capacity.units() < 1


def test_the_embedded_queues_work_is_not_counted_as_the_cameras():
    # A leak trace in the worker's own background queue would otherwise make its cameras look dearer.
    spent: list[float] = []
    traced, finish = threading.Event(), threading.Event()

    def trace() -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.3:
            sum(range(1000))
        spent.append(time.thread_time() - started)
        traced.set()
        finish.wait(30)  # (still running while it is measured: an ended thread's clock goes with it)

    before_all, before = time.process_time(), cameras_cpu()
    queue = threading.Thread(target=trace, name="queue")
    queue.start()
    try:
        assert traced.wait(30)
        counted, all_of_it = cameras_cpu() - before, time.process_time() - before_all
    finally:
        finish.set()
        queue.join()
    assert all_of_it >= spent[0] and counted < all_of_it - 0.5 * spent[0]


def test_a_worker_keeps_the_cameras_it_runs_within_a_margin_and_takes_no_more():
    # 3.5 camera units of capacity: it takes three; running four it hands one back; a figure just under three keeps
    # the three it runs rather than stopping one and taking it again a moment later.
    assert cameras_held(3.5, 1.0, running=0) == (3, 3)
    assert cameras_held(3.5, 1.0, running=4) == (3, 4 if 3.5 * 1.15 >= 4 else 3)
    assert cameras_held(2.9, 1.0, running=3) == (2, 3)
    assert cameras_held(2.0, 1.0, running=3) == (2, 2)
    # A 1280x720 camera counts three units; a worker takes one camera at least, or it would never measure anything.
    assert cameras_held(2.0, 3.0, running=0) == (1, 1)


def _worker() -> Worker:
    return Worker(pool=DetectorPool(lambda: WardDetectors(NoText()), workers=1, backlog=64))


def _stop(worker: Worker) -> None:
    for run in worker.runs.values():
        run.stop.set()
    for run in worker.runs.values():
        run.thread.join(timeout=60)
    worker.pool.close()


def test_without_a_set_capacity_a_worker_takes_what_its_own_measure_holds(settings):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, worker_capacity=0.0)
    worker = _worker()
    try:
        machine = Machine()
        worker.capacity = measured(machine, cores=1.0)
        worker.capacity.note(0.0, 0.0)
        for _ in range(60):  # two 640x480 cameras at 0.25 CPU-s each a second of video
            machine.run(1.0, 0.5)
            worker.capacity.note(2.0, 2.0)
        vga, hd = ["sim://bed?size=640x480&fps=15"] * 10, ["sim://bed?size=1280x720&fps=15"] * 5
        assert worker._within_capacity(10, vga) == (3, 3)  # 0.8 of a core / 0.25 = 3.2
        assert worker._within_capacity(5, hd) == (1, 1)
        assert worker._within_capacity(2, vga) == (2, 2)
        # A set capacity stands instead of the measure.
        settings.CRADLE = dataclasses.replace(settings.CRADLE, worker_capacity=8.0)
        assert worker._within_capacity(10, vga) == (8, 8)
    finally:
        worker.pool.close()


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.mark.django_db(transaction=True)
def test_a_camera_no_worker_can_take_is_unavailable_on_the_board_for_want_of_capacity(world, settings, caplog):
    caplog.set_level(logging.WARNING, logger="cradle.worker.pipelines")
    cameras = [world.families[tag].bed.camera.pk for tag in ("a", "b")]
    Camera.objects.filter(pk__in=cameras).update(source_url="sim://bed?size=640x480&fps=15", last_error="")
    # Room for two cameras: it runs both.
    settings.CRADLE = dataclasses.replace(settings.CRADLE, worker_capacity=2.0)
    worker = _worker()
    try:
        worker.reconcile()
        assert sorted(worker.runs) == sorted(cameras) and not worker.unserved
        # Its measure falls to one camera: it hands one back (no other worker is there to take it), and sees it free
        # (another worker with room would take it on its next round) ...
        settings.CRADLE = dataclasses.replace(settings.CRADLE, worker_capacity=1.0)
        worker.reconcile()
        held = [camera_of(name) for name in worker.held if camera_of(name) is not None]
        assert len(held) == 1
        (left,) = set(cameras) - set(held)
        assert not worker.unserved and Camera.objects.get(pk=left).last_error != Camera.NO_CAPACITY
        worker.reconcile()  # ... and on the next round, that nobody took it
        assert worker.unserved == {left}
        assert Camera.objects.get(pk=left).last_error == Camera.NO_CAPACITY
        assert Camera.objects.get(pk=held[0]).last_error != Camera.NO_CAPACITY
        assert _sample("cradle_cameras_without_capacity") == 1
        assert f"camera {left}: no worker has the redaction capacity" in caplog.text
        assert "worker at capacity: takes 1 of the 2 cameras" in caplog.text
        tag = "a" if world.families["a"].bed.camera.pk == left else "b"
        fam = world.families[tag]
        client = world.client("nurse1" if tag == "a" else "nurse2")
        # Its last segment is from before (the fixture's): no worker has stored one since.
        LiveSegment.objects.filter(camera_id=left).update(created_at=timezone.now() - timedelta(minutes=1))
        page = client.get(reverse("bed", args=[fam.bed.pk])).content.decode()
        assert 'data-picture="unavailable"' in page and "Camera unavailable" in page
        assert "Not enough redaction capacity" in page
        # In the nurse's own language, like the rest of the board.
        board = client.get(reverse("board", args=[fam.unit.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert "遮挡处理能力不足" in board
        # Once its baby goes home, it is wanted no more and keeps no want of capacity.
        Admission.objects.filter(pk=fam.admission.pk).update(discharged_at=timezone.now())
        worker.reconcile()
        assert not worker.unserved and Camera.objects.get(pk=left).last_error == ""
    finally:
        _stop(worker)
