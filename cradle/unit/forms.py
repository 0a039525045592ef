from __future__ import annotations

from django import forms
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, Unit


class AdmitForm(forms.Form):
    nickname = forms.CharField(
        label=_("Nickname (optional)"),
        max_length=40,
        required=False,
        help_text=_("Never the baby's name. Parents can choose one later."),
    )
    inpatient_number = forms.CharField(
        label=_("Inpatient number (optional)"),
        max_length=40,
        required=False,
        help_text=_("Stored only as a keyed hash, to match the hospital's records."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class InviteForm(forms.Form):
    role = forms.ChoiceField(label=_("Invite as"), choices=FamilyMembership.Role.choices)
    # The slip is for the family, not the nurse: in the language they read (each named in itself).
    language = forms.ChoiceField(
        label=_("Slip language"), choices=[("en", "English"), ("zh-hans", "中文")], required=False
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].initial = translation.get_language()


class NicknameForm(forms.Form):
    nickname = forms.CharField(
        label=_("Nickname"),
        max_length=40,
        required=False,
        help_text=_('Shown instead of "Baby at bed ...". Please do not use the baby\'s real name.'),
    )


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need access to this unit?"),
        min_length=15,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Access lasts one hour. The privacy officers are told at once."),
    )


class UnitSettingsForm(forms.ModelForm):
    class Meta:
        model = Unit
        fields = [
            "name_zh_hans",
            "idle_timeout_minutes",
            "session_lifetime_hours",
            "relative_cap",
            "parent_cap",
            "grace_days",
            "family_second_step",
        ]

    def clean_idle_timeout_minutes(self) -> int:
        return _bounded(self.cleaned_data["idle_timeout_minutes"], 5, 120)

    def clean_session_lifetime_hours(self) -> int:
        return _bounded(self.cleaned_data["session_lifetime_hours"], 1, 24)

    def clean_relative_cap(self) -> int:
        return _bounded(self.cleaned_data["relative_cap"], 0, 10)

    def clean_parent_cap(self) -> int:
        return _bounded(self.cleaned_data["parent_cap"], 1, 4)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Left out of a form, the unit keeps its grace period.
        self.fields["grace_days"].required = False

    def clean_grace_days(self) -> int:
        value = self.cleaned_data["grace_days"]
        if value is None:
            return self.instance.grace_days
        # Short enough that clips do not outlive their purpose (the 2016 portal kept them for years).
        return _bounded(value, 0, 90)


def _bounded(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise forms.ValidationError(_("Choose a value from %(low)d to %(high)d.") % {"low": low, "high": high})
    return value


class PauseForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=Camera.PauseReason.choices)
    minutes = forms.TypedChoiceField(
        label=_("Resume after"), coerce=int, choices=[(m, m) for m in Camera.PAUSE_MINUTES]
    )


class DailyClipForm(forms.Form):
    at = forms.TimeField(
        label=_("Keep a clip every day at"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )


class _BedElsewhere(forms.ModelChoiceField):
    def label_from_instance(self, obj: Bed) -> str:
        return f"{obj.unit.name} · {obj.label}"


class TransferForm(forms.Form):
    """A free bed in another unit."""

    bed = _BedElsewhere(label=_("Move to"), queryset=Bed.objects.none(), empty_label=None)

    def __init__(self, admission: Admission, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        taken = Admission.objects.filter(discharged_at__isnull=True).values("bed_id")
        field = self.fields["bed"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Bed.objects.exclude(unit_id=admission.unit_id).exclude(pk__in=taken).select_related("unit")


class WithdrawEverythingForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that every video of my baby will be destroyed now and cannot be brought back."),
    )


# --- Cameras (administrators) --------------------------------------------------------------------------------------

CAMERA_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "sim://")


class CameraForm(forms.Form):
    """A camera's address, bed and what the unit delivers from it. The user name and password are typed apart from
    the address and never shown again: an empty password keeps the stored one."""

    bed: forms.ModelChoiceField[Bed] = forms.ModelChoiceField(label=_("Bed"), queryset=None)
    source_url = forms.CharField(
        label=_("Camera address"),
        max_length=300,
        help_text=_("For example rtsp://10.20.30.40:554/stream1 (without user name or password)."),
    )
    username = forms.CharField(label=_("Camera user name"), max_length=100, required=False)
    password = forms.CharField(
        label=_("Camera password"),
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    forget_credentials = forms.BooleanField(label=_("Remove the stored user name and password"), required=False)
    width = forms.IntegerField(label=_("Width to deliver (pixels)"), min_value=160, max_value=1920, initial=640)
    height = forms.IntegerField(label=_("Height to deliver (pixels)"), min_value=120, max_value=1080, initial=480)
    fps = forms.IntegerField(label=_("Frames per second to deliver"), min_value=1, max_value=30, initial=15)

    def __init__(self, *args, unit, camera=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from cradle.unit.models import Bed

        free = Bed.objects.filter(unit=unit, camera__isnull=True)
        if camera is not None and camera.bed_id:
            free = Bed.objects.filter(pk=camera.bed_id) | free
        field = self.fields["bed"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = free.order_by("label")
        if camera is None:
            del self.fields["forget_credentials"]

    def clean_source_url(self) -> str:
        from cradle.media.camera_url import split_credentials

        url = self.cleaned_data["source_url"].strip()
        if not url.startswith(CAMERA_SCHEMES):
            raise forms.ValidationError(_("Enter an address starting with rtsp://, rtsps://, http:// or https://."))
        bare, credentials = split_credentials(url)
        self.typed_credentials = credentials
        return bare

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        for side in ("width", "height"):
            if data.get(side) and data[side] % 2:
                self.add_error(side, _("Enter an even number (the video format needs it)."))
        return data

    def credentials(self) -> str | None:
        """The "user:password" to store, "" to remove them, None to keep what is stored."""
        data = self.cleaned_data
        if data.get("forget_credentials"):
            return ""
        if data.get("username"):
            return f"{data['username']}:{data.get('password', '')}"
        return getattr(self, "typed_credentials", "") or None
