from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cradle.updates.service import MAX_TEXT


class UpdateForm(forms.Form):
    PHOTO_CHOICES = [
        ("", _("No photo")),
        ("live", _("A photo from the live picture (already redacted)")),
        ("upload", _("Upload a photo (it is redacted before it is kept)")),
    ]

    text = forms.CharField(
        label=_("Update for the family"),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("A few words about the day. No names, numbers or dates of birth: the family knows them."),
    )
    photo = forms.ChoiceField(
        label=_("Photo"),
        choices=PHOTO_CHOICES,
        required=False,
        widget=forms.RadioSelect,
        help_text=_("A photo is shown to you, redacted, before the update goes."),
    )
    upload = forms.ImageField(label=_("Photo to upload"), required=False)
    clip = forms.TypedChoiceField(label=_("A kept clip"), coerce=int, required=False, empty_value=None)
    # The photo already taken and shown to the nurse (an unsent update of theirs).
    draft = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, clips=(), taken: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        clip, photo = self.fields["clip"], self.fields["photo"]
        assert isinstance(clip, forms.ChoiceField) and isinstance(photo, forms.ChoiceField)
        clip.choices = [("", _("No clip")), *clips]
        if taken:
            photo.choices = [("taken", _("The photo shown above")), *self.PHOTO_CHOICES]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if data.get("photo") == "upload" and not data.get("upload"):
            self.add_error("upload", _("Choose the photo to upload."))
        return data
