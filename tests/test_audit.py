"""The audit log: hash chain, `cradle audit verify`, who watched, the privacy officers' search and export."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from cradle.audit import chain
from cradle.audit.models import Event


@pytest.fixture
def logged(db):
    for i in range(6):
        chain.append(
            actor_id=i,
            actor_name=f"person {i}",
            action="baby.view",
            admission_id=1,
            unit_id=1,
            ip="192.0.2.1",
            session="s",
            outcome="ok",
            detail={"n": i},
        )
    return list(Event.objects.order_by("seq"))


def tamper(sql: str, params=()) -> None:
    """Changes the log behind the application's back, as someone with database access could."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        else:
            cur.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
            cur.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        cur.execute(sql, params)
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_event ENABLE TRIGGER USER")


def verify_output() -> str:
    try:
        call_command("audit", "verify", stdout=io.StringIO())
    except CommandError as e:
        return str(e)
    return "intact"


def test_an_untouched_chain_verifies(logged):
    assert chain.verify() == (6, None)
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "6 events verified" in out.getvalue()


def test_an_edited_event_is_named(logged):
    tamper("UPDATE audit_event SET actor_name = 'someone else' WHERE seq = 3")
    count, broken = chain.verify()
    assert (count, broken.seq) == (2, 3) and "edited" in broken.problem
    assert verify_output().startswith("Audit chain broken at event 3")


def test_a_deleted_event_is_named(logged):
    tamper("DELETE FROM audit_event WHERE seq = 4")
    _, broken = chain.verify()
    assert broken.seq == 4 and "missing" in broken.problem


def test_a_deleted_tail_is_noticed(logged):
    tamper("DELETE FROM audit_event WHERE seq = 6")
    _, broken = chain.verify()
    assert broken.seq == 6


def test_reordered_events_are_noticed(logged):
    # Swap two events' places in the sequence.
    tamper("UPDATE audit_event SET seq = -1 WHERE seq = 2")
    tamper("UPDATE audit_event SET seq = 2 WHERE seq = 5")
    tamper("UPDATE audit_event SET seq = 5 WHERE seq = -1")
    _, broken = chain.verify()
    assert broken.seq == 2


def test_rewriting_a_whole_event_with_a_new_hash_breaks_the_next_link(logged):
    e = logged[2]
    fields = chain.event_fields(e) | {"actor_name": "forged"}
    tamper(
        "UPDATE audit_event SET actor_name = 'forged', hash = %s WHERE seq = 3", [chain.link_hash(e.prev_hash, fields)]
    )
    _, broken = chain.verify()
    assert broken.seq == 4 and "link" in broken.problem


def test_the_database_refuses_updates_and_deletes(logged):
    for sql in ("UPDATE audit_event SET action = 'x' WHERE seq = 1", "DELETE FROM audit_event WHERE seq = 1"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert chain.verify() == (6, None)


def test_parents_see_who_watched_and_relatives_do_not(world):
    admission = world.families["a"].admission
    world.client("relative_a").get(reverse("baby", args=[admission.pk]))
    world.client("nurse1").get(reverse("baby", args=[admission.pk]))
    page = world.client("parent_a").get(reverse("who_watched", args=[admission.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Relative A" in body and "Nurse1" in body and "care team" in body
    assert world.client("relative_a").get(reverse("who_watched", args=[admission.pk])).status_code == 404
    assert world.client("parent_b").get(reverse("who_watched", args=[admission.pk])).status_code == 404


def test_the_api_gives_the_same_viewings_as_the_who_watched_page_and_is_audited_alike(world):
    from cradle.audit.actions import Action
    from tests.test_viewing import playlist_urls, stored

    fam = world.families["a"]
    stored(fam)
    relative, nurse, parent = world.client("relative_a"), world.client("nurse1"), world.client("parent_a")
    for url in playlist_urls(relative, fam)[:3]:  # one viewing of many fetches
        relative.get(url)
    relative.get(reverse("baby", args=[fam.admission.pk]))
    nurse.get(reverse("baby", args=[fam.admission.pk]))
    api = parent.get(reverse("api:watchers", args=[fam.admission.pk])).json()
    page = parent.get(reverse("who_watched", args=[fam.admission.pk]))
    shown = [(w.who, w.kind, w.start, w.end) for w in page.context["page"]]
    assert [(w["who"], w["kind"]) for w in api] == [(who, kind) for who, kind, _, _ in shown]
    assert sorted((w["who"], w["kind"], w["staff"]) for w in api) == [
        ("Nurse1", "baby", True),
        ("Relative A", "baby", False),
        ("Relative A", "live", False),
    ]
    reads = Event.objects.filter(action=Action.AUDIT_WHO_WATCHED_VIEW, actor_id=fam.parent.pk).order_by("pk")
    assert [(e.admission_id, e.detail) for e in reads] == [(fam.admission.pk, {"via": "api"}), (fam.admission.pk, {})]
    assert len(parent.get(reverse("api:watchers", args=[fam.admission.pk]), {"limit": 1}).json()) == 1


def test_who_watched_shows_only_this_baby(world):
    world.client("parent_b").get(reverse("baby", args=[world.families["b"].admission.pk]))
    body = world.client("parent_a").get(reverse("who_watched", args=[world.families["a"].admission.pk])).content
    assert b"Parent B" not in body


def test_refused_lookups_are_recorded(world):
    world.client("parent_b").get(reverse("baby", args=[world.families["a"].admission.pk]))
    denied = Event.objects.get(action="access.denied")
    assert denied.actor_id == world.users["parent_b"].pk and denied.outcome == "denied"


def test_privacy_officer_searches_and_exports_and_the_export_is_audited(world):
    admission = world.families["a"].admission
    world.client("relative_a").get(reverse("baby", args=[admission.pk]))
    world.client("parent_b").get(reverse("baby", args=[world.families["b"].admission.pk]))
    po = world.client("privacy")
    page = po.get(reverse("audit_search"), {"account": "relative_a", "action": "baby."})
    assert page.status_code == 200
    assert b"Relative A" in page.content
    # Family B is in another unit: not in this officer's log.
    assert b"Parent B" not in po.get(reverse("audit_search")).content

    response = po.get(reverse("audit_export"), {"admission": admission.pk})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["seq", "at_utc", "actor_id", "actor", "action"]
    assert any(r[3] == "Relative A" and r[4] == "baby.view" for r in rows[1:])
    assert Event.objects.filter(action="audit.export", actor_id=world.users["privacy"].pk).exists()


def test_export_neutralises_spreadsheet_formulas(world):
    world.users["relative_a"].display_name = '=HYPERLINK("http://x")'
    world.users["relative_a"].save()
    world.client("relative_a").get(reverse("baby", args=[world.families["a"].admission.pk]))
    response = world.client("privacy").get(reverse("audit_export"))
    text = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in text


def test_events_record_actor_address_session_and_time(world):
    c = world.client("relative_a")
    c.get(reverse("baby", args=[world.families["a"].admission.pk]), REMOTE_ADDR="192.0.2.44")
    e = Event.objects.filter(action="baby.view").latest("seq")
    assert e.actor_id == world.users["relative_a"].pk
    assert e.ip == "192.0.2.44" and len(e.session) > 10 and e.at.tzinfo is not None
    assert e.unit_id == world.unit1.pk and e.admission_id == world.families["a"].admission.pk
