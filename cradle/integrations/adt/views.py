"""The administrator's page for the admission feed: which place in the hospital's messages is which Cradle bed,
and the messages the feed could not apply."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cradle import scope
from cradle.accounts.reauth import reauthentication_required
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.integrations.adt.models import BedLocation, FeedMessage
from cradle.request import SignedInRequest
from cradle.unit.models import Bed, Unit

# How many of the unit's refused messages the page lists.
RECENT = 20


class BedLocationsForm(forms.Form):
    """Three fields per bed: point of care, room and bed as PV1-3 names them. All empty: the bed has no place."""

    def __init__(self, beds: list[Bed], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.beds = beds
        for bed in beds:
            current = getattr(bed, "feed_location", None)
            for part, label in (
                ("poc", gettext_lazy("Point of care")),
                ("room", gettext_lazy("Room")),
                ("bed", gettext_lazy("Bed")),
            ):
                value = {"poc": "point_of_care", "room": "room", "bed": "hl7_bed"}[part]
                self.fields[f"{part}_{bed.pk}"] = forms.CharField(
                    label=label,
                    max_length=40,
                    required=False,
                    initial=getattr(current, value, ""),
                    widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                )

    def rows(self):
        for bed in self.beds:
            yield bed, [self[f"{part}_{bed.pk}"] for part in ("poc", "room", "bed")]

    def places(self) -> dict[int, tuple[str, str, str] | None]:
        return {bed.pk: self._place(bed) for bed in self.beds}

    def _place(self, bed: Bed) -> tuple[str, str, str] | None:
        poc, room, hl7_bed = (self.cleaned_data[f"{p}_{bed.pk}"].strip() for p in ("poc", "room", "bed"))
        return (poc, room, hl7_bed) if poc or room or hl7_bed else None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        seen: dict[tuple[str, str, str], Bed] = {}
        others = BedLocation.objects.exclude(bed__in=self.beds).select_related("bed__unit")
        taken = {(o.point_of_care.casefold(), o.room.casefold(), o.hl7_bed.casefold()): o.bed for o in others}
        for bed in self.beds:
            place = self._place(bed)
            if place is None:
                continue
            if not place[0] or not place[2]:
                self.add_error(f"poc_{bed.pk}", _("Give at least the point of care and the bed."))
                continue
            key = (place[0].casefold(), place[1].casefold(), place[2].casefold())
            other = seen.get(key) or taken.get(key)
            if other is not None:
                self.add_error(
                    f"poc_{bed.pk}",
                    _("This place is already bed %(bed)s of %(unit)s.") % {"bed": other.label, "unit": other.unit.name},
                )
            seen[key] = bed
        return data


@login_required
def feed_beds(request: SignedInRequest, unit_id: int) -> HttpResponse:
    return _feed_beds(request, scope.get_administered_unit(request.user, unit_id))


@reauthentication_required
def _feed_beds(request: HttpRequest, unit: Unit) -> HttpResponse:
    beds = list(Bed.objects.filter(unit=unit).select_related("feed_location").order_by("label"))
    form = BedLocationsForm(beds, request.POST or None)
    if request.method == "POST" and form.is_valid():
        changed = []
        with transaction.atomic():
            for bed in beds:
                place = form.places()[bed.pk]
                current = getattr(bed, "feed_location", None)
                now = (current.point_of_care, current.room, current.hl7_bed) if current else None
                if place == now:
                    continue
                BedLocation.objects.filter(bed=bed).delete()
                if place is not None:
                    BedLocation.objects.create(bed=bed, point_of_care=place[0], room=place[1], hl7_bed=place[2])
                changed.append({"bed": bed.label, "place": "^".join(place) if place else ""})
            if changed:
                record(request, Action.ADT_BEDS_MAPPED, unit=unit, changes=changed)
        messages.success(request, _("Saved. The feed uses the new places from its next message."))
        return redirect("feed_beds", unit_id=unit.pk)
    refused = FeedMessage.objects.filter(unit_id=unit.pk).exclude(answer="AA")[:RECENT]
    unplaced = FeedMessage.objects.filter(unit_id__isnull=True).exclude(answer="AA")[:RECENT]
    return render(
        request, "adt/feed_beds.html", {"unit": unit, "form": form, "refused": [*refused, *unplaced][:RECENT]}
    )
