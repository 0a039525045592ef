"""`cradle trace SUSPECT... [--json]`: which account received the copies found outside Cradle.
`cradle trace --code QX4-M7B [--json]`: the session and account behind a visible viewer code."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.forensics import codes
from cradle.forensics.tracing import TraceError, colluders, trace_all, visible_evidence


class Command(BaseCommand):
    help = "Trace leaked video files to their source and to the account that received them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("suspects", nargs="*", metavar="SUSPECT")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--code", help="look up the session and account behind a visible viewer code instead")

    def handle(self, *args, **options) -> None:
        if options["code"] is not None:
            self._code(options["code"], options["json"])
            return
        paths = options["suspects"]
        if not paths:
            raise CommandError("Name at least one suspect file, or a viewer code with --code.")
        try:
            results, verdict = trace_all(paths)
        except TraceError as e:
            record(None, Action.TRACE_RUN, outcome="failed", suspects=paths, reason=str(e))
            raise CommandError(str(e)) from None
        except Exception as e:  # whatever stops a trace is audited and told in one line
            reason = f"The trace stopped unexpectedly ({type(e).__name__}); keep the suspect and report this."
            record(None, Action.TRACE_RUN, outcome="failed", suspects=paths, reason=reason)
            raise CommandError(reason) from None
        visible = [visible_evidence(r.visible, verdict) for r in results]
        together = colluders(results)
        report = {
            "verdict": verdict.outcome,
            "reason": verdict.reason,
            "account": verdict.candidate if verdict.outcome == "identified" else None,
            "consistent_with": verdict.candidate if verdict.outcome == "consistent" else None,
            "colluders": together,
            "candidates": [
                {"account": s.candidate, "readable": s.readable, "matches": s.matches, "p_innocent": s.probability}
                for s in verdict.ranking[:10]
            ],
            "suspects": [
                {
                    "file": r.path,
                    "camera": r.camera_id,
                    "offset_s": None if r.offset is None else round(r.offset, 3) + 0.0,  # never "-0.0"
                    "segments": [
                        {"index": x.index, "unit": x.unit, "units": x.units, "z": round(x.z, 2), "bit": x.bit}
                        for x in r.readings
                    ],
                    "note": r.note,
                    "visible_code": seen,
                }
                for r, seen in zip(results, visible, strict=True)
            ],
        }
        record(None, Action.TRACE_RUN, suspects=paths, verdict=verdict.outcome, account=report["account"] or "")
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for r, seen in zip(results, visible, strict=True):
            if r.camera_id is None:
                self.stdout.write(f"{r.path}: {r.note}")
            else:
                read = sum(1 for x in r.readings if x.variant is not None)
                offset = round(r.offset or 0.0, 2) + 0.0  # never "-0.00"; a camera found comes with its offset
                self.stdout.write(
                    f"{r.path}: camera {r.camera_id}, offset {offset:.2f} s, "
                    f"{read} of {len(r.readings)} mark units readable"
                )
            if seen["code"]:
                behind = ", ".join(seen["accounts"]) or "no session"
                self.stdout.write(f"  visible viewer code {seen['code']} ({behind}): {seen['agreement']}")
        if verdict.outcome == "identified":
            best = verdict.ranking[0]
            self.stdout.write(
                f"Identified: account {verdict.candidate} ({best.matches} of {best.readable} bits match; "
                f"chance that an innocent account matches as well: {best.probability:.2e})"
            )
        elif verdict.outcome == "consistent":
            self.stdout.write(f"Graded, nobody named: {verdict.reason}")
        else:
            self.stdout.write(f"Inconclusive: {verdict.reason}")
        if together:
            self.stdout.write(
                f"Copies of several accounts: {', '.join(together['accounts'])} together explain"
                f" {together['explained']} of {together['readable']} bits; chance that an innocent account is among"
                f" them: below {together['p_innocent']:.2e}"
            )
        for s in verdict.ranking[1:5]:
            self.stdout.write(f"  {s.candidate}: {s.matches}/{s.readable}, p={s.probability:.2e}")

    def _code(self, typed: str, as_json: bool) -> None:
        code = codes.normalise(typed)
        if code is None:
            raise CommandError(f"{typed!r} is not a viewer code (three letters or digits 2-7, a hyphen, three more).")
        found = codes.owners(code)
        record(None, "trace.code_lookup", code=code, accounts=sorted({o.account for o in found}))
        if as_json:
            rows = [
                {
                    "account": o.account,
                    "session": o.session,
                    "created_at": o.created_at.isoformat(),
                    "last_seen_at": o.last_seen_at.isoformat(),
                    "ended_at": o.ended_at.isoformat() if o.ended_at else None,
                    "ip": o.ip,
                }
                for o in found
            ]
            self.stdout.write(json.dumps({"code": code, "sessions": rows}, indent=2))
            return
        if not found:
            self.stdout.write(f"{code}: no session has this code")
        for o in found:
            ended = f", ended {o.ended_at:%Y-%m-%d %H:%M}" if o.ended_at else ""
            self.stdout.write(
                f"{code}: account {o.account}, session {o.session}, signed in {o.created_at:%Y-%m-%d %H:%M}{ended}"
            )
