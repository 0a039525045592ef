"""The upload of suspect clips: checked by size and by content (PyAV), never by the file's name."""

from __future__ import annotations

import av
from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_SUSPECTS = 10


def max_upload_bytes() -> int:
    return settings.CRADLE.trace_upload_max_bytes


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class SuspectFilesField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data]
        return [super(SuspectFilesField, self).clean(f, initial) for f in files]


def is_video(upload: UploadedFile) -> bool:
    """Whether PyAV finds a video stream in the file and decodes a frame of it, no larger than 4K (a picture the
    decoder would refuse to allocate counts as no video)."""
    from cradle.forensics.tracing import MAX_PIXELS

    upload.seek(0)
    try:
        with av.open(upload, "r", options={"max_pixels": str(MAX_PIXELS)}) as container:
            if not container.streams.video:
                return False
            stream = container.streams.video[0]
            if getattr(stream, "codec_context", None) is None:
                return False
            stream.codec_context.options = {"max_pixels": str(MAX_PIXELS)}
            for _frame in container.decode(stream):
                return True
            return False
    except (av.FFmpegError, ValueError, OSError, EOFError, AttributeError):
        return False
    finally:
        upload.seek(0)


class TraceUploadForm(forms.Form):
    unit = forms.TypedChoiceField(label=gettext_lazy("Unit"), coerce=int)
    suspects = SuspectFilesField(
        label=gettext_lazy("Suspect clips"),
        help_text=gettext_lazy("One or more video files found outside Cradle."),
        widget=MultipleFileInput(attrs={"accept": "video/*"}),
    )

    def __init__(self, *args, units=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        unit = self.fields["unit"]
        assert isinstance(unit, forms.ChoiceField)
        unit.choices = [(u.pk, u.name) for u in units]

    def clean_suspects(self) -> list[UploadedFile]:
        files = self.cleaned_data["suspects"]
        if len(files) > MAX_SUSPECTS:
            raise forms.ValidationError(_("Upload at most %(n)d clips at a time.") % {"n": MAX_SUSPECTS})
        limit = max_upload_bytes()
        for f in files:
            if f.size > limit:
                raise forms.ValidationError(
                    _("%(name)s is larger than %(limit)s; cut the part that matters and upload that.")
                    % {"name": f.name, "limit": _size(limit)}
                )
            if not is_video(f):
                raise forms.ValidationError(
                    _("%(name)s is not a video Cradle can read; upload the clip itself.") % {"name": f.name}
                )
        return files


def _size(n: int) -> str:
    return f"{n / 1024**2:.0f} MiB" if n >= 1024**2 else f"{n / 1024:.0f} KiB"
