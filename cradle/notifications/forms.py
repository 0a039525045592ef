from __future__ import annotations

from django import forms

from cradle.notifications.models import Preference


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = Preference
        fields = [
            *("clip", "update", "paused", "stay"),
            *("email", "push"),
            *("quiet_from", "quiet_until", "digest", "digest_at"),
        ]
        widgets = {
            "quiet_from": forms.TimeInput(attrs={"type": "time"}),
            "quiet_until": forms.TimeInput(attrs={"type": "time"}),
            "digest_at": forms.TimeInput(attrs={"type": "time"}),
        }
