from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from cradle.accounts.models import User


def _phone() -> forms.RegexField:
    return forms.RegexField(
        label=_("Phone number (optional)"),
        regex=r"^\+?[0-9 ()-]{6,24}$",
        required=False,
        help_text=_("Only for the unit to call you; nurses see it masked unless they need it."),
        error_messages={"invalid": _("Enter a phone number of digits, spaces and an optional leading +.")},
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Invitation code"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )


class NewAccountForm(forms.Form):
    display_name = forms.CharField(
        label=_("Your name as others in your family will see it"),
        max_length=60,
        help_text=_('For example "Mum", "Grandpa Li". You can change it later.'),
    )
    username = forms.RegexField(
        label=_("Username"),
        max_length=40,
        regex=r"^[A-Za-z0-9_.-]{3,40}$",
        help_text=_("3 to 40 letters, digits, dots, dashes or underscores."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        label=_("E-mail address (optional)"),
        required=False,
        help_text=_("Only used to reset a forgotten password."),
    )
    phone = _phone()
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label=_("Password again"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].lower()
        if User.objects.filter(username=username).exists():
            raise forms.ValidationError(_("This username is taken. Please choose another."))
        return username

    def clean(self) -> dict:
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            candidate = User(username=data.get("username", ""), display_name=data.get("display_name", ""))
            try:
                password_validation.validate_password(p1, candidate)
            except forms.ValidationError as e:
                self.add_error("password1", e)
        return data


class DisplayNameForm(forms.ModelForm):
    """The person's name and contact details (sealed in the database)."""

    email = forms.EmailField(
        label=_("E-mail address (optional)"),
        required=False,
        help_text=_("Only used to reset a forgotten password and to tell you a new clip is waiting."),
    )
    phone = _phone()

    class Meta:
        model = User
        fields = ["display_name", "email", "phone"]
