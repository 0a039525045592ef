from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.utils.translation import gettext_lazy as _

from cradle.audit.actions import picker_choices


class AuditSearchForm(forms.Form):
    """The privacy officer's search: an account as the log shows it, a baby as the staff know it, an action from the
    list, and days in the reader's own calendar and time zone."""

    unit = forms.IntegerField(required=False, widget=forms.HiddenInput)
    account = forms.CharField(
        label=_("Account"),
        max_length=80,
        required=False,
        help_text=_("A name as shown in the log, or a username."),
    )
    admission = forms.TypedChoiceField(label=_("Baby"), coerce=int, required=False, empty_value=None)
    action = forms.ChoiceField(label=_("Action"), required=False)
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    every_row = forms.BooleanField(
        label=_("Show every row (each second of video and each state check)"),
        required=False,
    )

    def __init__(self, *args, babies: Sequence[tuple[int, str]] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        admission, action = self.fields["admission"], self.fields["action"]
        assert isinstance(admission, forms.ChoiceField) and isinstance(action, forms.ChoiceField)
        admission.choices = [("", _("Any baby")), *babies]
        action.choices = picker_choices()
