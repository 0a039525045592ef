"""Every action the audit log records, with the words a privacy officer reads for it.

The value is what the log stores and exports (and what the hash chain covers), so values never change; the label
is translated when a page shows it. A test reads the code for action names and fails on one missing here.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    # Watching
    BABY_VIEW = "baby.view", _("Opened the baby's page")
    BABY_STATUS = "baby.status", _("Player checked the picture's state")
    LIVE_PLAYLIST = "live.playlist", _("Started the live picture")
    LIVE_SEGMENT = "live.segment", _("Received a second of live video")
    LIVE_KEY = "live.key", _("Received a live video key")
    LIVE_STILL = "live.still", _("Received a still of the live picture")
    CLIP_PLAYLIST = "clip.playlist", _("Started a clip")
    CLIP_SEGMENT = "clip.segment", _("Received a second of a clip")
    CLIP_KEY = "clip.key", _("Received a clip's video key")
    CLIP_RECORDED = "clip.recorded", _("Kept a clip")
    CLIP_KEEPSAKE = "clip.keepsake", _("Asked for a keepsake")
    CLIP_KEEPSAKE_DOWNLOAD = "clip.keepsake_download", _("Saved a keepsake")
    ACCESS_DENIED = "access.denied", _("Was refused access")
    # Care-team updates
    UPDATE_SENT = "update.sent", _("Sent a care-team update")
    UPDATE_VIEW = "update.view", _("Saw a care-team update")
    UPDATE_PHOTO = "update.photo", _("Received an update's photo")
    UPDATE_PHOTO_REFUSED = "update.photo_refused", _("Update photo refused by redaction")
    UPDATE_AUDIENCE = "update.audience_changed", _("Changed what relatives see")
    UPDATE_DELETED = "update.deleted", _("Deleted a care-team update")
    NOTIFICATION_SETTINGS = "notification.settings_changed", _("Changed notification settings")
    # Accounts and sign-in
    ACCOUNT_CREATED = "account.created", _("Account created")
    ACCOUNT_LOGIN = "account.login", _("Signed in")
    ACCOUNT_LOGIN_FAILED = "account.login_failed", _("Sign-in failed")
    ACCOUNT_LOGIN_THROTTLED = "account.login_throttled", _("Sign-in slowed after failures")
    ACCOUNT_LOGOUT = "account.logout", _("Signed out")
    ACCOUNT_SESSION_ENDED = "account.session_ended", _("Ended a session")
    ACCOUNT_SESSIONS_ENDED = "account.sessions_ended", _("Ended all sessions")
    ACCOUNT_SESSION_EXPIRED = "account.session_expired", _("Session expired")
    ACCOUNT_SECOND_FACTOR_ADDED = "account.second_factor_added", _("Added a second sign-in step")
    ACCOUNT_SECOND_FACTOR_REMOVED = "account.second_factor_removed", _("Removed a second sign-in step")
    ACCOUNT_SECOND_STEP_FAILED = "account.second_step_failed", _("Second sign-in step failed")
    ACCOUNT_SECOND_STEP_THROTTLED = "account.second_step_throttled", _("Second step slowed after failures")
    ACCOUNT_SUSPENDED = "account.suspended", _("Account suspended")
    ACCOUNT_REINSTATED = "account.reinstated", _("Account reinstated")
    ACCOUNT_DISPLAY_NAME_CHANGED = "account.display_name_changed", _("Changed their display name")
    ACCOUNT_CONTACT_CHANGED = "account.contact_changed", _("Changed their contact details")
    DIRECTORY_SIGN_IN = "directory.sign_in", _("Signed in through the hospital")
    DIRECTORY_SIGN_IN_FAILED = "directory.sign_in_failed", _("Hospital sign-in failed")
    DIRECTORY_SIGN_IN_REFUSED = "directory.sign_in_refused", _("Hospital sign-in refused")
    DIRECTORY_REAUTHENTICATED = "directory.reauthenticated", _("Confirmed identity through the hospital")
    DIRECTORY_SIGNED_OUT = "directory.signed_out_by_provider", _("Signed out by the hospital")
    DIRECTORY_LOGOUT_REFUSED = "directory.logout_refused", _("Hospital sign-out refused")
    DIRECTORY_ACCOUNT_CLOSED = "directory.account_closed", _("Account closed by the hospital")
    # Families and invitations
    INVITATION_ISSUED = "invitation.issued", _("Issued an invitation")
    INVITATION_REDEEMED = "invitation.redeemed", _("Used an invitation")
    INVITATION_REJECTED = "invitation.rejected", _("Invitation code refused")
    INVITATION_THROTTLED = "invitation.throttled", _("Invitation codes slowed after failures")
    INVITATION_REVOKED = "invitation.revoked", _("Revoked an invitation")
    FAMILY_REVOKED = "family.revoked", _("Removed a family member")
    FAMILY_SESSIONS_ENDED = "family.sessions_ended", _("Ended a family member's sessions")
    FAMILY_CONTACT_REVEALED = "family.contact_revealed", _("Looked up a family member's contact")
    CONSENT_WITHDRAWN = "consent.withdrawn", _("Withdrew consent")
    CONSENT_LIVE_WITHDRAWN = "consent.live_withdrawn", _("Withdrew consent to live viewing")
    # The ward
    UNIT_CREATED = "unit.created", _("Unit created")
    UNIT_SETTINGS_CHANGED = "unit.settings_changed", _("Changed the unit's settings")
    UNIT_BOARD_VIEW = "unit.board_view", _("Opened the unit board")
    BED_CREATED = "bed.created", _("Bed created")
    CAMERA_CREATED = "camera.created", _("Camera created")
    CAMERA_SET_UP = "camera.set_up", _("Set up a camera")
    CAMERA_CHANGED = "camera.changed", _("Changed a camera's settings")
    CAMERA_CHECKED = "camera.checked", _("Checked a camera")
    CAMERA_RETIRED = "camera.retired", _("Retired a camera")
    CAMERA_ZONE_PICTURE = "camera.zone_picture", _("Opened a camera's redacted picture to draw its areas")
    CAMERA_ZONES_CHANGED = "camera.zones_changed", _("Changed a camera's shown area or masked zones")
    CAMERA_PAUSED = "camera.paused", _("Paused a camera")
    CAMERA_RESUMED = "camera.resumed", _("Resumed a camera")
    CAMERA_DAILY_CLIP_SET = "camera.daily_clip_set", _("Set the daily clip")
    ADMISSION_CREATED = "admission.created", _("Baby admitted")
    ADMISSION_TRANSFERRED = "admission.transferred", _("Baby transferred")
    ADMISSION_DISCHARGED = "admission.discharged", _("Baby discharged")
    ADMISSION_DISCHARGE_CANCELLED = "admission.discharge_cancelled", _("Discharge cancelled")
    ADMISSION_NICKNAME_CHANGED = "admission.nickname_changed", _("Changed the baby's nickname")
    ADMISSION_SHREDDED = "admission.shredded", _("Baby's media destroyed")
    STAFF_ROLE_GRANTED = "staff.role_granted", _("Staff role granted")
    STAFF_ROLE_REMOVED = "staff.role_removed", _("Staff role removed")
    BREAK_GLASS_GRANTED = "break_glass.granted", _("Emergency access granted")
    ADT_CONNECTION = "adt.connection", _("Admission feed connected")
    ADT_MESSAGE = "adt.message", _("Admission feed message")
    ADT_BEDS_MAPPED = "adt.beds_mapped", _("Admission feed beds mapped")
    # Privacy office
    AUDIT_SEARCH = "audit.search", _("Searched the audit log")
    AUDIT_EXPORT = "audit.export", _("Exported the audit log")
    AUDIT_WHO_WATCHED_VIEW = "audit.who_watched_view", _("Opened who watched")
    AUDIT_ANCHORED = "audit.anchored", _("Audit log anchored")
    AUDIT_KEYED = "audit.keyed", _("Audit log keyed")
    ALERT_ACKNOWLEDGED = "alert.acknowledged", _("Acknowledged an alert")
    TRACE_QUEUED = "trace.queued", _("Queued a leak trace")
    TRACE_REQUEUED = "trace.requeued", _("Queued a leak trace again")
    TRACE_RUN = "trace.run", _("Ran a leak trace")
    TRACE_REPORT_VIEW = "trace.report_view", _("Opened a trace report")
    TRACE_REPORT_DOWNLOAD = "trace.report_download", _("Saved a trace report")
    TRACE_CODE_LOOKUP = "trace.code_lookup", _("Looked up a viewer code")
    # Keeping and destroying
    RETENTION_RUN = "retention.run", _("Retention applied")
    BACKUP_CREATED = "backup.created", _("Backup made")
    BACKUP_RESTORED = "backup.restored", _("Backup restored")


# The per-second rows of watching (and the ward board's refreshing stills): a viewing is its page, playlist or clip
# opening; these are folded into it on the search page unless the officer asks for every row.
FOLDED = frozenset(
    {
        Action.LIVE_SEGMENT,
        Action.LIVE_KEY,
        Action.LIVE_STILL,
        Action.CLIP_SEGMENT,
        Action.CLIP_KEY,
        Action.BABY_STATUS,
        Action.UPDATE_PHOTO,
    }
)

# What a parent sees on "Who watched": every way of looking at their baby, a care-team photo included.
WATCH_ACTIONS = (
    Action.BABY_VIEW,
    Action.LIVE_PLAYLIST,
    Action.LIVE_SEGMENT,
    Action.LIVE_KEY,
    Action.CLIP_PLAYLIST,
    Action.CLIP_SEGMENT,
    Action.CLIP_KEY,
    Action.UPDATE_PHOTO,
)

_GROUPS = {
    "baby": _("Watching"),
    "live": _("Watching"),
    "clip": _("Watching"),
    "access": _("Watching"),
    "update": _("Care-team updates"),
    "notification": _("Care-team updates"),
    "account": _("Accounts and sign-in"),
    "directory": _("Accounts and sign-in"),
    "invitation": _("Families"),
    "family": _("Families"),
    "consent": _("Families"),
    "unit": _("The ward"),
    "bed": _("The ward"),
    "camera": _("The ward"),
    "admission": _("The ward"),
    "staff": _("The ward"),
    "break_glass": _("The ward"),
    "adt": _("The ward"),
    "audit": _("Privacy office"),
    "alert": _("Privacy office"),
    "trace": _("Privacy office"),
    "retention": _("Keeping and destroying"),
    "backup": _("Keeping and destroying"),
}

# Prefixes an officer may pick to see a whole kind of action at once.
PREFIXES = {
    "baby.": _("Baby's page (all)"),
    "live.": _("Live picture (all)"),
    "clip.": _("Clips (all)"),
    "update.": _("Care-team updates (all)"),
    "account.": _("Accounts (all)"),
    "invitation.": _("Invitations (all)"),
    "camera.": _("Cameras (all)"),
    "admission.": _("Admissions (all)"),
    "trace.": _("Leak tracing (all)"),
}


def label(action: str) -> str:
    """The reader's words for a stored action; an action this version does not know is shown as stored."""
    try:
        return str(Action(action).label)
    except ValueError:
        return action


def picker_choices() -> list[tuple]:
    """The action picker's choices: any action, whole kinds, then every action under its group."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for action in Action:
        group = str(_GROUPS.get(action.value.split(".")[0], _("Other")))
        groups.setdefault(group, []).append((action.value, str(action.label)))
    return [
        ("", _("Any action")),
        (_("Kinds"), [(p, str(words)) for p, words in PREFIXES.items()]),
        *[(group, items) for group, items in groups.items()],
    ]
