"""The hospital's admission feed over a real TCP socket: HL7 v2 ADT over MLLP, as an interface engine sends it.

Admissions, transfers, discharges, updates and cancellations go through the nurse's services; every message gets AA,
AE or AR with its reason; a resend changes nothing; out-of-order and conflicting messages are refused, not guessed;
nothing a sender does (garbage, broken frames, huge messages, hanging up mid-message, a wrong address, plain TCP to
TLS) stops the listener; and no PHI from the messages is stored, logged, audited or echoed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import connection

from cradle import scope
from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.integrations.adt import config as feed_config
from cradle.integrations.adt.mllp import Listener
from cradle.integrations.adt.models import BedLocation, FeedMessage
from cradle.integrations.adt.receiver import FeedReceiver
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, Unit, inpatient_digest
from tests.adt_feed import CR, FS, PHI, VT, Sender, adt
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Ward:
    nicu: Unit
    scn: Unit
    beds: dict[str, Bed]


@dataclass
class Feed:
    address: tuple[str, int]
    receiver: FeedReceiver

    def sender(self, tls: ssl.SSLContext | None = None) -> Sender:
        return Sender(self.address, tls)

    def send(self, message: str | bytes):
        s = self.sender()
        try:
            return s.send(message)
        finally:
            s.close()


def make_ward() -> Ward:
    nicu = Unit.objects.create(name="Neonatal ICU", code="nicu")
    scn = Unit.objects.create(name="Special Care Nursery", code="scn")
    beds = {}
    for unit, poc, labels in ((nicu, "NICU", ("1", "2", "3", "4")), (scn, "SCN", ("1", "2"))):
        for label in labels:
            bed = Bed.objects.create(unit=unit, label=label)
            Camera.objects.create(bed=bed, source_url=f"sim://{unit.code}-{label}")
            BedLocation.objects.create(bed=bed, point_of_care=poc, room="", hl7_bed=label)
            beds[f"{poc}^^{label}"] = bed
    return Ward(nicu, scn, beds)


def start(values: dict | None = None, **listener_options) -> tuple[Feed, threading.Event, threading.Thread]:
    config = feed_config.load({**settings.ADT, "BIND": "127.0.0.1:0", **(values or {})})
    receiver = FeedReceiver(config)
    listener = Listener(
        ("127.0.0.1", 0),
        receiver,
        allowed=config.allowed,
        tls=config.tls,
        max_bytes=config.max_bytes,
        idle_seconds=config.idle_seconds,
        **listener_options,
    )
    stop = threading.Event()
    thread = threading.Thread(target=listener.serve, args=(stop,), daemon=True)
    thread.start()
    return Feed(listener.address, receiver), stop, thread


@pytest.fixture
def ward() -> Ward:
    return make_ward()


@pytest.fixture
def feed(ward) -> Iterator[Feed]:
    running, stop, thread = start()
    yield running
    stop.set()
    thread.join(timeout=10)


def everything_stored() -> str:
    """Every row of every table, as text: what someone with the database would see."""
    dump = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names(cur):
            cur.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dump.append(repr(cur.fetchall()))
    return "\n".join(dump)


def assert_no_phi(*texts: str) -> None:
    for text in texts:
        for item in PHI:
            assert item not in text, item


def feed_events(action: str = "adt.message") -> list[Event]:
    return list(Event.objects.filter(action=action).order_by("seq"))


# --- admissions, transfers, discharges ----------------------------------------------------------------------------


def test_an_admission_from_the_feed_opens_the_bed_and_keeps_no_phi(feed, ward, caplog):
    caplog.set_level(logging.DEBUG)
    ack = feed.send(adt("A01", "MSG0001"))
    assert (ack.code, ack.control_id, ack.error) == ("AA", "MSG0001", "")
    assert ack.raw.startswith("MSH|^~\\&|CRADLE|NICU|HIS|HOSPITAL|") and "|ACK^A01^ACK|" in ack.raw
    admission = Admission.objects.get()
    assert admission.bed == ward.beds["NICU^^3"] and admission.admitted_by is None
    assert admission.inpatient_digest == inpatient_digest("MRN0001")
    assert Admission.objects.filmed().filter(pk=admission.pk).exists()  # the worker starts this bed's camera
    created = Event.objects.get(action="admission.created")
    assert created.admission_id == admission.pk and created.detail["via"] == "adt" and created.actor_id is None
    (message,) = feed_events()
    assert message.outcome == "ok" and message.admission_id == admission.pk
    assert message.detail | {"peer": "127.0.0.1"} == {
        "via": "adt",
        "peer": "127.0.0.1",
        "event": "A01",
        "control_id": "MSG0001",
        "sender": "HIS^HOSPITAL",
        "answer": "AA",
        "reason": "",
        "changed": True,
    }
    assert_no_phi(everything_stored(), caplog.text, ack.raw, "MRN0001")


def test_a_transfer_moves_the_familys_access_with_the_baby(feed, ward):
    assert feed.send(adt("A01", "T1")).code == "AA"
    admission = Admission.objects.get()
    parent = make_user("parent_t")
    FamilyMembership.objects.create(user=parent, admission=admission, role="parent")
    # Within the unit, then to the nursery.
    ack = feed.send(adt("A02", "T2", location="NICU^^1", prior="NICU^^3", when="20261206130000"))
    assert ack.code == "AA", ack.text
    admission.refresh_from_db()
    assert admission.bed == ward.beds["NICU^^1"]
    ack = feed.send(adt("A02", "T3", location="SCN^^2", prior="NICU^^1", when="20261206140000"))
    assert ack.code == "AA", ack.text
    admission.refresh_from_db()
    assert admission.bed == ward.beds["SCN^^2"] and admission.unit == ward.scn
    assert scope.get_watchable_admission(parent, admission.pk) == admission
    moves = Event.objects.filter(action="admission.transferred", admission_id=admission.pk)
    assert {e.unit_id for e in moves} == {ward.nicu.pk, ward.scn.pk}
    # A12 cancels the last transfer: back to NICU bed 1.
    ack = feed.send(adt("A12", "T4", location="NICU^^1", prior="SCN^^2", when="20261206150000"))
    assert ack.code == "AA", ack.text
    admission.refresh_from_db()
    assert admission.bed == ward.beds["NICU^^1"]


def test_a_discharge_runs_the_nurses_discharge_and_a13_undoes_it(feed, ward):
    feed.send(adt("A01", "D1"))
    admission = Admission.objects.get()
    parent = make_user("parent_d")
    FamilyMembership.objects.create(user=parent, admission=admission, role="parent")
    device = DeviceSession.objects.create(user=parent, session_key="open-d", idle_timeout_s=1800, lifetime_s=43200)
    ack = feed.send(adt("A03", "D2", when="20261207090000"))
    assert ack.code == "AA", ack.text
    admission.refresh_from_db()
    device.refresh_from_db()
    assert admission.discharged_at is not None and device.ended_at is not None  # the family was signed out
    assert Event.objects.filter(action="admission.discharged", admission_id=admission.pk).exists()
    # Sent again with a new control id: nothing to do, and said so.
    again = feed.send(adt("A03", "D3", when="20261207090000"))
    assert again.code == "AA" and "Already discharged" in again.text
    ack = feed.send(adt("A13", "D4", when="20261207100000"))
    assert ack.code == "AA", ack.text
    admission.refresh_from_db()
    assert admission.discharged_at is None and admission.bed == ward.beds["NICU^^3"]
    assert Event.objects.filter(action="admission.discharge_cancelled", admission_id=admission.pk).exists()


def test_updates_and_cancelled_admissions(feed, ward):
    feed.send(adt("A01", "U1"))
    admission = Admission.objects.get()
    assert feed.send(adt("A08", "U2")).code == "AA"
    moved = feed.send(adt("A08", "U3", location="NICU^^4"))
    assert moved.code == "AE" and "A02" in moved.text  # an update does not move a baby: reported
    assert feed.send(adt("A11", "U4")).code == "AA"
    admission.refresh_from_db()
    assert admission.discharged_at is not None
    # Once a family has joined, a cancellation is a nurse's decision, not the feed's.
    feed.send(adt("A01", "U5", mrn="MRN0002", location="NICU^^2"))
    second = Admission.objects.get(inpatient_digest=inpatient_digest("MRN0002"))
    FamilyMembership.objects.create(user=make_user("parent_u"), admission=second, role="parent")
    refused = feed.send(adt("A11", "U6", mrn="MRN0002"))
    assert refused.code == "AE" and "nurse" in refused.text
    second.refresh_from_db()
    assert second.discharged_at is None


@pytest.mark.parametrize(("setting", "admitted"), [("ignore", False), ("admit", True)])
def test_a04_and_a05_do_what_the_hospital_configured(ward, setting, admitted):
    running, stop, thread = start({"A04": setting, "A05": setting})
    try:
        assert running.send(adt("A04", "R1")).code == "AA"
        assert running.send(adt("A05", "R2", mrn="MRN0009", location="NICU^^4")).code == "AA"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert Admission.objects.exists() is admitted


# --- duplicates, order and conflicts ------------------------------------------------------------------------------


def test_a_resent_message_changes_nothing_and_gets_the_same_answer(feed, ward):
    first = feed.send(adt("A01", "DUP1"))
    second = feed.send(adt("A01", "DUP1"))
    assert (first.code, first.text) == (second.code, second.text) == ("AA", "")
    assert Admission.objects.count() == 1
    assert [e.detail.get("duplicate", False) for e in feed_events()] == [False, True]
    # The same control id on another message: refused, and nothing changes.
    reused = feed.send(adt("A03", "DUP1"))
    assert (reused.code, reused.error) == ("AE", "205")
    assert Admission.objects.get().discharged_at is None


def test_out_of_order_and_conflicting_messages_are_reported_not_guessed(feed, ward):
    early = feed.send(adt("A02", "O1", location="NICU^^1", prior="NICU^^3"))
    assert (early.code, early.error) == ("AE", "204") and "A01" in early.text
    assert feed.send(adt("A03", "O2")).code == "AE"
    assert not Admission.objects.exists()
    assert feed.send(adt("A01", "O3", when="20261206120000")).code == "AA"
    admission = Admission.objects.get()
    assert feed.send(adt("A02", "O4", location="NICU^^1", prior="NICU^^3", when="20261206130000")).code == "AA"
    # A transfer that happened before the one applied arrives late: refused, not applied on top.
    late = feed.send(adt("A02", "O5", location="NICU^^2", prior="NICU^^3", when="20261206125000"))
    assert late.code == "AE" and "out of order" in late.text
    # The feed and Cradle disagree on where the baby is.
    elsewhere = feed.send(adt("A02", "O6", location="NICU^^2", prior="NICU^^4", when="20261206140000"))
    assert elsewhere.code == "AE" and "bed 1 of nicu" in elsewhere.text
    admission.refresh_from_db()
    assert admission.bed == ward.beds["NICU^^1"]
    # Another baby into an occupied bed; the same baby admitted again elsewhere; a place with no Cradle bed.
    occupied = feed.send(adt("A01", "O7", mrn="MRN0003", location="NICU^^1"))
    assert occupied.code == "AE" and "already has another baby" in occupied.text
    twice = feed.send(adt("A01", "O8", location="NICU^^4"))
    assert twice.code == "AE" and "already admitted" in twice.text
    unmapped = feed.send(adt("A01", "O9", mrn="MRN0004", location="PICU^^7"))
    assert (unmapped.code, unmapped.error) == ("AE", "103") and "PICU, bed 7" in unmapped.text
    assert Admission.objects.count() == 1
    assert {e.outcome for e in feed_events()[-5:]} == {"failed"}


def test_a_feed_of_the_whole_hospital_can_ignore_places_without_a_cradle_bed(ward):
    running, stop, thread = start({"UNMAPPED": "ignore"})
    try:
        ack = running.send(adt("A01", "W1", location="ORTHO^^12"))
        assert ack.code == "AA" and "nothing to do" in ack.text
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not Admission.objects.exists()


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (adt("A01", "X1", message_type="ORU"), "200"),
        (adt("A31", "X2"), "201"),
        (adt("A01", "X3", processing="T"), "202"),
        (adt("A01", "X4", version="3.0"), "203"),
        (adt("A01", ""), "101"),
    ],
    ids=["not ADT", "unknown event", "training message", "version 3", "no control id"],
)
def test_messages_cradle_does_not_take_are_rejected(feed, ward, message, error):
    ack = feed.send(message)
    assert (ack.code, ack.error) == ("AR", error), ack.text
    assert not Admission.objects.exists()
    assert feed_events()[-1].outcome == "denied"


def test_wrong_segments_are_refused_with_the_reason(feed, ward):
    no_pv1 = "\r".join(line for line in adt("A01", "S1").split("\r") if not line.startswith("PV1"))
    ack = feed.send(no_pv1)
    assert (ack.code, ack.error) == ("AE", "100") and "PV1" in ack.text
    no_id = adt("A01", "S2", mrn="")
    no_id = no_id.replace("PID|1||^^^HOSP^MR~440101202612010011^^^CHN^NI", "PID|1||")
    assert feed.send(no_id).code == "AE"
    lowercase = adt("A01", "S3").replace("\rEVN|", "\revn|")
    ack = feed.send(lowercase)
    assert ack.code == "AR" and "Segment 2" in ack.text
    second_msh = adt("A01", "S4") + adt("A01", "S5")
    assert feed.send(second_msh).code == "AR"
    assert not Admission.objects.exists()


# --- what a sender can do to the listener --------------------------------------------------------------------------


def test_the_listener_survives_garbage_broken_frames_huge_messages_and_bad_bytes(feed, ward, caplog):
    sender = feed.sender()
    try:
        sender.send_raw(b"GET / HTTP/1.1\r\nHost: cradle\r\n\r\n")  # not MLLP: ignored outside any frame
        assert sender.send(adt("A08", "G1")).code == "AA"
        # A frame cut short by the next start block: the broken part is rejected, the next one is applied.
        sender.send_raw(VT + adt("A01", "G2").encode()[:60])
        ack = sender.send(adt("A01", "G3"))
        assert ack.code == "AR" and "framing" in ack.text
        assert sender.receive().code == "AA"
        # Larger than the limit: rejected from its header alone, without keeping it whole.
        huge = adt("A01", "G4", mrn="MRN0005", location="NICU^^2") + "NTE|1||" + "x" * (2 << 20) + "\r"
        ack = sender.send(huge)
        assert (ack.code, ack.control_id) == ("AR", "G4") and "larger than" in ack.text
        # Not the declared character set; no message at all; a binary blob.
        bad = adt("A01", "G5", mrn="MRN0006", location="NICU^^4").encode().replace(b"ZHANG", b"\xff\xfe")
        assert sender.send(bad).code == "AR"
        assert sender.send(b"").code == "AR"
        assert sender.send(bytes(range(256)).replace(VT, b"").replace(FS, b"")).code == "AR"
        assert sender.send(adt("A08", "G6")).code == "AA"
    finally:
        sender.close()
    assert Admission.objects.count() == 1
    assert_no_phi(everything_stored(), caplog.text)


def test_a_client_that_hangs_up_mid_message_does_not_stop_the_listener(feed, ward):
    cut = socket.create_connection(feed.address)
    cut.sendall(VT + adt("A01", "H1").encode()[:80])
    cut.close()
    quiet = socket.create_connection(feed.address)  # connects and sends nothing
    assert feed.send(adt("A01", "H2")).code == "AA"
    quiet.close()
    deadline = time.monotonic() + 10
    while not Event.objects.filter(action="adt.connection", detail__problem="cut_off").exists():
        assert time.monotonic() < deadline, "the cut-off message was not audited"
        time.sleep(0.05)
    assert Admission.objects.count() == 1  # only the whole message


def test_a_frame_without_its_trailing_cr_and_several_messages_in_one_write(feed, ward):
    sender = feed.sender()
    try:
        both = VT + adt("A01", "B1").encode() + FS + VT + adt("A08", "B2").encode() + FS + CR
        sender.send_raw(both)
        assert [sender.receive().control_id, sender.receive().control_id] == ["B1", "B2"]
    finally:
        sender.close()


def test_only_allowed_addresses_are_served(ward):
    running, stop, thread = start({"ALLOWED": "192.0.2.0/24"})
    try:
        sender = running.sender()
        sender.send_raw(VT + adt("A01", "N1").encode() + FS + CR)
        assert sender.receive() is None  # closed without an answer
        sender.close()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not Admission.objects.exists()
    refused = Event.objects.get(action="adt.connection")
    assert refused.outcome == "denied" and refused.detail["problem"] == "address_refused"


def _certificate(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cradle-feed")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "feed.crt", tmp_path / "feed.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def test_the_feed_over_tls(ward, tmp_path):
    cert, key = _certificate(tmp_path)
    running, stop, thread = start({"TLS_CERT": cert, "TLS_KEY": key})
    try:
        plain = running.sender()
        plain.send_raw(VT + adt("A01", "P1").encode() + FS + CR)
        assert plain.receive() is None  # plain TCP to a TLS listener: no handshake, no answer
        plain.close()
        client = ssl.create_default_context(cafile=cert)
        sender = running.sender(tls=client)
        try:
            assert sender.send(adt("A01", "P2")).code == "AA"
        finally:
            sender.close()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert Admission.objects.count() == 1
    assert Event.objects.filter(action="adt.connection", detail__problem="tls_failed").exists()


def test_too_many_connections_are_turned_away_and_the_rest_served(ward):
    running, stop, thread = start(max_connections=2)
    try:
        holders = [socket.create_connection(running.address) for _ in range(2)]
        time.sleep(0.3)
        turned_away = running.sender()
        turned_away.send_raw(VT + adt("A08", "C0").encode() + FS + CR)
        assert turned_away.receive() is None
        turned_away.close()
        for s in holders:
            s.close()
        time.sleep(0.3)
        assert running.send(adt("A01", "C1")).code == "AA"
    finally:
        stop.set()
        thread.join(timeout=10)


def test_the_feed_records_what_it_answered_without_phi(feed, ward):
    feed.send(adt("A01", "K1"))
    feed.send(adt("A02", "K2", location="PICU^^9", prior="NICU^^3", when="20261206130000"))
    rows = {m.control_id: m for m in FeedMessage.objects.all()}
    assert (rows["K1"].answer, rows["K1"].changed) == ("AA", True)
    assert rows["K2"].answer == "AE" and "PICU, bed 9" in rows["K2"].reason
    assert_no_phi(json.dumps([e.detail for e in Event.objects.all()]))


def test_the_feeds_settings_are_checked_with_one_sentence():
    base = {**settings.ADT}
    for values, named in [
        ({"BIND": "nowhere"}, "CRADLE_ADT_BIND"),
        ({"ALLOWED": "everyone"}, "CRADLE_ADT_ALLOWED"),
        ({"A04": "maybe"}, "CRADLE_ADT_A04"),
        ({"PATIENT_ID": "PID-5"}, "CRADLE_ADT_PATIENT_ID"),
        ({"TLS_CERT": "/nonexistent.crt"}, "CRADLE_ADT_TLS_KEY"),
        ({"UNMAPPED": "guess"}, "CRADLE_ADT_UNMAPPED"),
    ]:
        with pytest.raises(feed_config.ConfigError, match=named):
            feed_config.load({**base, **values})


def test_the_inpatient_number_can_come_from_the_visit_number(ward):
    running, stop, thread = start({"PATIENT_ID": "PV1-19"})
    try:
        assert running.send(adt("A01", "V1")).code == "AA"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert Admission.objects.get().inpatient_digest == inpatient_digest("V778899")


def test_messages_in_gb18030_are_read_as_declared(feed, ward):
    BedLocation.objects.filter(bed=ward.beds["NICU^^4"]).update(point_of_care="新生儿科")
    message = adt("A01", "Z1", location="新生儿科^^4", charset="GB 18030-2000")
    ack = feed.send(message.encode("gb18030"))
    assert ack.code == "AA", ack.text
    assert Admission.objects.get().bed == ward.beds["NICU^^4"]


def test_an_hl7_library_reads_the_test_messages_and_cradles_answers(feed, ward):
    """A check from outside: the `hl7` package (PyPI) reads what the tests send and what Cradle answers."""
    hl7 = pytest.importorskip("hl7")
    message = adt("A01", "L1")
    parsed = hl7.parse(message)
    assert str(parsed.segment("PV1")[3][0][0]) == "NICU"
    ack = feed.send(message)
    answer = hl7.parse(ack.raw)
    assert str(answer.segment("MSA")[1]) == "AA" and str(answer.segment("MSA")[2]) == "L1"


def test_a_dead_database_gets_a_rejection_to_send_again_and_nothing_is_kept(feed, ward, monkeypatch):
    from django.db import DatabaseError

    from cradle.integrations.adt import apply

    def down(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(apply, "carry_out", down)
    ack = feed.send(adt("A01", "Q1"))
    assert (ack.code, ack.error) == ("AR", "207") and "again later" in ack.text
    monkeypatch.undo()
    assert feed.send(adt("A01", "Q1")).code == "AA"  # the resend is processed, not taken for a duplicate
    assert Admission.objects.count() == 1
