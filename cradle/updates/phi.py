"""A check of an update's words for obvious identifying details, shown to the nurse as a warning before sending.

It catches what a record would hold: the baby's inpatient number (matched through the keyed digest Cradle keeps,
whatever separators it is written with), any long run of digits (another record or phone number), the names of the
family on the admission (full names, and each part of a Latin-script name; a Chinese name whole and without its
family name), full dates in the usual English and Chinese forms, and the words "date of birth", "DOB", "born on",
"出生". It is a reminder, not a filter: a nurse may still send after reading the warning, and it cannot know a name
or number that is not on the admission (a diagnosis, another patient's name, a nickname of the staff's own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from cradle.unit.models import Admission, inpatient_digest

_WORDS = re.compile(r"[A-Za-z0-9]+")
_LONG_NUMBER = re.compile(r"(?<![\d])\d(?:[\s\-./]?\d){5,}(?![\d])")
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATES = re.compile(
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b"  # 2026-03-01
    r"|\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})\b"  # 01/03/2026, 1.3.26
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号]"  # 2026年3月1日
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTHS + r"\.?,?\s+\d{4}\b"  # 1 March 2026
    r"|\b" + _MONTHS + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b",  # March 1, 2026
    re.IGNORECASE,
)
_BIRTH = re.compile(r"\b(?:date\s+of\s+birth|d\.?o\.?b\.?|born\s+on)\b|出生", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str


KINDS = {
    "inpatient": _("the baby's inpatient number"),
    "number": _("a long number (a record or phone number?)"),
    "name": _("a name on the baby's record"),
    "date": _("a full date (a date of birth?)"),
    "birth": _("words about a birth date"),
}


def _name_parts(name: str) -> set[str]:
    name = " ".join(name.split())
    if not name:
        return set()
    parts = {name}
    if _CJK.search(name):
        compact = name.replace(" ", "")
        if len(compact) >= 3:
            parts.add(compact[1:])  # the given name without the family name
    else:
        parts |= {p for p in re.split(r"[\s\-']+", name) if len(p) >= 3}
    return parts


def names_on_record(admission: Admission) -> set[str]:
    """The names the admission's record holds: its family members' (the baby's name is never stored)."""
    names: set[str] = set()
    for member in admission.family.filter(revoked_at__isnull=True).select_related("user"):
        names |= _name_parts(member.user.display_name)
    return names


def _inpatient(text: str, digest: str) -> list[str]:
    """Runs of up to four words that, joined without separators, are the inpatient number."""
    if not digest:
        return []
    words = list(_WORDS.finditer(text))
    found = []
    for i in range(len(words)):
        for j in range(i, min(i + 4, len(words))):
            candidate = text[words[i].start() : words[j].end()]
            joined = "".join(w.group() for w in words[i : j + 1])
            if len(joined) >= 4 and any(c.isdigit() for c in joined) and inpatient_digest(joined) == digest:
                found.append(candidate)
    return found


def check(text: str, admission: Admission) -> list[Finding]:
    """What in `text` looks identifying, in the order of the kinds above; empty when nothing does."""
    findings = [Finding("inpatient", t) for t in _inpatient(text, admission.inpatient_digest)]
    known = {f.text for f in findings}
    findings += [Finding("number", m.group()) for m in _LONG_NUMBER.finditer(text) if m.group() not in known]
    folded = text.casefold()
    for name in sorted(names_on_record(admission), key=len, reverse=True):
        # Chinese is written without spaces between words, so a name is found anywhere in it.
        hit = name in text if _CJK.search(name) else bool(re.search(rf"\b{re.escape(name.casefold())}\b", folded))
        if hit and not any(name in f.text for f in findings if f.kind == "name"):
            findings.append(Finding("name", name))
    findings += [Finding("date", m.group()) for m in _DATES.finditer(text)]
    findings += [Finding("birth", m.group()) for m in _BIRTH.finditer(text)]
    return findings
