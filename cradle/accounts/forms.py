from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core import context
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from allauth.mfa.webauthn.forms import (
    AddWebAuthnForm,
    AuthenticateWebAuthnForm,
    LoginWebAuthnForm,
    ReauthenticateWebAuthnForm,
)
from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from cradle.accounts import throttle
from cradle.accounts.models import User
from cradle.audit.actions import Action
from cradle.audit.log import record


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
        super().clean()
        data = self.cleaned_data
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


# --- The second sign-in step (allauth's forms, named in MFA_FORMS) -------------------------------------------------


class _ThrottledCodeStep:
    """A code typed at the second step (authenticator app or recovery code): refused without being checked once this
    account's budget on this device is spent (cradle.accounts.throttle: a device that signed in to the account before
    keeps its own), and every wrong one counted and audited, without the code."""

    reauthentication = False
    user: User

    def clean_code(self) -> str:
        request = context.request
        if not throttle.second_step_allowed(request, self.user.username):
            record(request, Action.ACCOUNT_SECOND_STEP_THROTTLED, outcome="denied", actor=self.user)
            raise get_account_adapter().validation_error("too_many_login_attempts")
        try:
            return super().clean_code()  # type: ignore[misc]
        except forms.ValidationError:
            throttle.second_step_failed(request, self.user.username)
            record(
                request,
                Action.ACCOUNT_SECOND_STEP_FAILED,
                outcome="failed",
                actor=self.user,
                method="code",
                reauthentication=self.reauthentication,
            )
            if self._code_already_used():
                raise forms.ValidationError(
                    _(
                        "This code has just been used to sign in. Wait for the next code in your authenticator app "
                        "(a new one comes every 30 seconds) and type that."
                    ),
                    code="code_already_used",
                ) from None
            raise

    def _code_already_used(self) -> bool:
        """Whether the code typed is the app's current one, taken already (allauth takes a code once per period)."""
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP, validate_totp_code
        from django.core.cache import cache

        code = str(self.data.get("code", "")).strip()  # type: ignore[attr-defined]
        for authenticator in Authenticator.objects.filter(user=self.user, type=Authenticator.Type.TOTP):
            totp = TOTP(authenticator)
            secret = get_mfa_adapter().decrypt(authenticator.data["secret"])
            if cache.get(totp._get_used_cache_key(code)) and validate_totp_code(secret, code):
                return True
        return False


class SecondStepForm(_ThrottledCodeStep, AuthenticateForm):
    pass


class SecondStepReauthenticateForm(_ThrottledCodeStep, ReauthenticateForm):
    reauthentication = True


class _WellFormedPasskey:
    """A malformed passkey answer is a wrong answer (allauth lets some raise KeyError: a server error for anyone)."""

    def clean_credential(self) -> Any:
        try:
            return super().clean_credential()  # type: ignore[misc]
        except (KeyError, TypeError, ValueError) as e:
            raise get_mfa_adapter().validation_error("incorrect_code") from e


class _AuditedPasskeyStep(_WellFormedPasskey):
    """A passkey that did not answer at the second step is audited too (there is nothing to guess, so no budget)."""

    reauthentication = False
    user: User

    def clean_credential(self) -> Any:
        try:
            return super().clean_credential()
        except forms.ValidationError:
            record(
                context.request,
                Action.ACCOUNT_SECOND_STEP_FAILED,
                outcome="failed",
                actor=self.user,
                method="passkey",
                reauthentication=self.reauthentication,
            )
            if self._code_already_used():
                raise forms.ValidationError(
                    _(
                        "This code has just been used to sign in. Wait for the next code in your authenticator app "
                        "(a new one comes every 30 seconds) and type that."
                    ),
                    code="code_already_used",
                ) from None
            raise

    def _code_already_used(self) -> bool:
        """Whether the code typed is the app's current one, taken already (allauth takes a code once per period)."""
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP, validate_totp_code
        from django.core.cache import cache

        code = str(self.data.get("code", "")).strip()  # type: ignore[attr-defined]
        for authenticator in Authenticator.objects.filter(user=self.user, type=Authenticator.Type.TOTP):
            totp = TOTP(authenticator)
            secret = get_mfa_adapter().decrypt(authenticator.data["secret"])
            if cache.get(totp._get_used_cache_key(code)) and validate_totp_code(secret, code):
                return True
        return False


class PasskeyStepForm(_AuditedPasskeyStep, AuthenticateWebAuthnForm):
    pass


class PasskeyReauthenticateForm(_AuditedPasskeyStep, ReauthenticateWebAuthnForm):
    reauthentication = True


class PasskeySignInForm(_WellFormedPasskey, LoginWebAuthnForm):
    pass


class AddPasskeyForm(AddWebAuthnForm):
    """Adding a passkey: it also signs the person in on its own (one tap on a phone), unless they untick it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "passwordless" in self.fields:
            self.fields["passwordless"].initial = True
            self.fields["passwordless"].label = _("Sign in with this passkey alone")
            self.fields["passwordless"].help_text = _(
                "Your phone asks for your fingerprint, face or screen lock instead of the password."
            )
        self.fields["name"].label = _("Name of this passkey")

    def clean(self) -> dict:
        try:
            return super().clean()
        except (KeyError, TypeError, ValueError) as e:
            # A malformed answer from the browser is a wrong answer, not a server error.
            raise get_mfa_adapter().validation_error("incorrect_code") from e
