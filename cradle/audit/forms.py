from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class AuditSearchForm(forms.Form):
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput)
    account = forms.CharField(label=_("Account (username)"), max_length=60, required=False)
    admission = forms.IntegerField(label=_("Admission number"), required=False, min_value=1)
    action = forms.CharField(label=_("Action"), max_length=60, required=False)
    start = forms.DateTimeField(
        label=_("From (UTC)"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label=_("Until (UTC)"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
