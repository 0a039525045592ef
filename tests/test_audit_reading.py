"""The audit log as a privacy officer reads it: human actions in their language, accounts and babies as the staff
know them, per-second rows folded into viewings, days in the reader's zone, and a landing page of what needs them."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

from django.urls import reverse
from django.utils import timezone

from cradle.audit import chain
from cradle.audit.actions import Action
from cradle.unit.models import BreakGlassGrant

ROOT = Path(__file__).resolve().parent.parent / "cradle"
_NAME = re.compile(r"[a-z_]+\.[a-z_]+")
_RECORDERS = {"record", "record_fetch", "_write", "_refuse", "_staff_role", "anchor_now", "_event", "event_fields"}


def _event(world, action: str, *, actor="relative_a", admission=None, at=None):
    user = world.users[actor]
    admission = admission or world.families["a"].admission
    return chain.append(
        at=at or timezone.now(),
        actor_id=user.pk,
        actor_name=user.display_name,
        action=action,
        unit_id=admission.unit_id,
        admission_id=admission.pk,
        ip="192.0.2.9",
        session="s1",
        outcome="ok",
        detail={},
    )


def _rows(response) -> str:
    """The table of events, without the search form (whose action picker names every action)."""
    body = response.content.decode()
    return body[body.index("<table") :]


def test_every_action_the_code_records_has_a_label():
    missing = set()
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in _RECORDERS:
                continue
            for arg in node.args[:3]:
                for const in ast.walk(arg):
                    value = const.value if isinstance(const, ast.Constant) else None
                    if isinstance(value, str) and _NAME.fullmatch(value) and value not in Action.values:
                        missing.add(f"{value} ({path.relative_to(ROOT)})")
    assert not missing, f"actions without a label in cradle.audit.actions: {sorted(missing)}"


def test_actions_are_shown_in_words_in_both_languages(world):
    _event(world, "baby.view")
    po = world.client("privacy")
    body = po.get(reverse("audit_search")).content.decode()
    assert "Opened the baby&#x27;s page" in body or "Opened the baby's page" in body
    po.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    body = _rows(po.get(reverse("audit_search")))
    assert "打开了宝宝的页面" in body and ">baby.view<" not in body


def test_account_is_found_by_the_name_shown_or_the_username(world):
    _event(world, "baby.view", actor="relative_a")
    _event(world, "baby.view", actor="parent_a")
    po = world.client("privacy")
    for query in ("Relative A", "relative a", "relative_a"):
        body = po.get(reverse("audit_search"), {"account": query}).content.decode()
        assert "Relative A" in body and "Parent A" not in body, query


def test_babies_are_named_by_bed_and_nickname(world):
    admission = world.families["a"].admission
    admission.nickname = "Little Mei"
    admission.save()
    _event(world, "baby.view")
    body = world.client("privacy").get(reverse("audit_search")).content.decode()
    assert "Bed a1 · Little Mei" in body
    assert f"Admission {admission.pk}" not in body


def test_seconds_of_video_are_folded_into_viewings_unless_asked(world):
    _event(world, "live.playlist")
    for _ in range(3):
        _event(world, "live.segment")
    _event(world, "baby.status")
    po = world.client("privacy")
    response = po.get(reverse("audit_search"))
    body = _rows(response)
    assert "Started the live picture" in body and "Received a second of live video" not in body
    body = response.content.decode()
    assert "4 rows of seconds of video and state checks are folded" in body
    body = _rows(po.get(reverse("audit_search"), {"every_row": "on"}))
    assert body.count("Received a second of live video") == 3 and "Player checked the picture" in body
    # Picking a folded action shows it.
    body = _rows(po.get(reverse("audit_search"), {"action": "live.segment"}))
    assert body.count("Received a second of live video") == 3 and "Started the live picture" not in body


def test_the_action_picker_offers_every_action_and_whole_kinds(world):
    body = world.client("privacy").get(reverse("audit_search")).content.decode()
    assert '<select name="action"' in body
    assert 'value="clip.keepsake_download"' in body and 'value="baby."' in body


def test_days_are_the_readers_days(world):
    # 23:30 UTC on 1 March is 07:30 on 2 March in Shanghai.
    at = timezone.now().replace(year=2026, month=3, day=1, hour=23, minute=30)
    _event(world, "clip.recorded", at=at)
    po = world.client("privacy")
    po.cookies["cradle_tz"] = "Asia/Shanghai"
    found = po.get(reverse("audit_search"), {"start": "2026-03-02", "end": "2026-03-02"})
    assert "Kept a clip" in _rows(found) and 'type="date"' in found.content.decode()
    assert "Asia/Shanghai" in _rows(found)
    assert "Kept a clip" not in _rows(po.get(reverse("audit_search"), {"end": "2026-03-01"}))


def test_the_export_keeps_every_row(world):
    _event(world, "live.segment")
    response = world.client("privacy").get(reverse("audit_export"))
    assert b"live.segment" in b"".join(response.streaming_content)


def test_phone_layout_keeps_the_essential_columns(world):
    _event(world, "baby.view")
    body = world.client("privacy").get(reverse("audit_search")).content.decode()
    for label in ("Time", "Account", "Action", "Baby", "Outcome"):
        assert f'data-label="{label}"' in body
    css = (ROOT / "static/cradle/cradle.css").read_text()
    assert "table.audit thead, table.audit .wide { display: none; }" in css


def test_privacy_officers_landing_page_shows_what_needs_them(world):
    from cradle.audit.log import alert_privacy_officers

    alert_privacy_officers(world.unit1.pk, "break_glass", name="Nurse2", username="nurse2", unit="NICU", minutes=60)
    BreakGlassGrant.objects.create(
        user=world.users["nurse2"],
        unit=world.unit1,
        reason="twin in theatre",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    body = world.client("privacy").get(reverse("home")).content.decode()
    assert "1 alert to review" in body and "twin in theatre" in body
    assert "Needs your attention" not in world.client("parent_a").get(reverse("home"), follow=True).content.decode()
