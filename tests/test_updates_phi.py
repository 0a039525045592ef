"""The PHI check on an update's words: what it catches, and what it is known to miss."""

from __future__ import annotations

from cradle.unit.models import inpatient_digest
from cradle.updates.phi import check


def _kinds(text: str, admission) -> set[str]:
    return {f.kind for f in check(text, admission)}


def test_the_inpatient_number_is_found_however_it_is_written(world):
    admission = world.families["a"].admission
    admission.inpatient_digest = inpatient_digest("ZY-2026-0417")
    for text in ("no. zy20260417 today", "ZY 2026 0417", "(ZY-2026-0417)"):
        assert "inpatient" in _kinds(text, admission), text
    assert "inpatient" not in _kinds("ZY-2026-0418", admission)


def test_names_on_the_record_are_found(world):
    admission = world.families["a"].admission
    parent = world.families["a"].parent
    parent.display_name = "Chen Li Na"
    parent.save()
    assert "name" in _kinds("Chen called this morning", admission)
    parent.display_name = "王小红"
    parent.save()
    assert "name" in _kinds("王小红来过了", admission) and "name" in _kinds("小红今天来了", admission)


def test_dates_and_birth_words_are_found(world):
    admission = world.families["a"].admission
    for text in ("2026-11-30", "30/11/2026", "2026年11月30日", "30 November 2026", "Nov 30, 2026"):
        assert "date" in _kinds(text, admission), text
    assert "birth" in _kinds("DOB was early", admission) and "birth" in _kinds("出生时很小", admission)
    assert "number" in _kinds("call 138 0013 8000", admission)


def test_ordinary_words_pass(world):
    admission = world.families["a"].admission
    assert check("Slept well, 35 ml at 3 pm, off the CPAP for 2 hours.", admission) == []


def test_what_it_misses(world):
    # Names not on the record, partial dates and diagnoses are not recognised: the warning is a reminder, not a filter.
    admission = world.families["a"].admission
    assert check("Dr Smith says the NEC is better since 30 Nov", admission) == []
