from __future__ import annotations

from django.urls import include, path, register_converter
from django.views.i18n import set_language

from cradle.accounts import views as accounts
from cradle.api.routes import api
from cradle.audit import views as audit
from cradle.forensics import views as forensics
from cradle.integrations.adt import views as feed
from cradle.unit import cameras, ward, zones
from cradle.unit.views import administrators, families, nurses, slips
from cradle.viewing import keepsake_pages as keepsakes
from cradle.viewing import stills
from cradle.viewing import views as viewing
from cradle.web import health, installable, theme
from cradle.web import views as web
from cradle.web.converters import IdConverter

register_converter(IdConverter, "id")

urlpatterns = [
    # First: a player asks for these every second, and every request is resolved once more by the fast path's
    # middleware (cradle/viewing/fastpath.py) before Django does; no other route matches their addresses.
    path("v/<str:token>.ts", viewing.segment, name="segment"),
    path("v/<str:token>.key", viewing.segment_key, name="segment_key"),
    path("babies/<id:admission_id>/live.m3u8", viewing.live_playlist, name="live_playlist"),
    path("babies/<id:admission_id>/status.json", viewing.live_status, name="live_status"),
    path("", web.home, name="home"),
    path("healthz", web.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("theme/", theme.set_theme, name="set_theme"),
    path("sw.js", installable.service_worker, name="service_worker"),
    path("offline/", installable.offline, name="offline"),
    # allauth's sign-in, second step and account pages, and the hospital's OpenID Connect sign-in. Not allauth.urls
    # as a whole: with the social-account app installed it would also bring sign-up, account linking and
    # connection pages, which Cradle does not offer.
    path("accounts/", include("allauth.account.urls")),
    path("accounts/2fa/", include("allauth.mfa.urls")),
    path("accounts/", include("cradle.integrations.directory.urls")),
    path("join/", accounts.join, name="join"),
    path("join/account/", accounts.join_account, name="join_account"),
    path("welcome/second-step/", accounts.mfa_prompt, name="mfa_prompt"),
    path("me/", accounts.profile, name="profile"),
    path("me/devices/", accounts.devices, name="devices"),
    path("me/devices/<str:public_id>/end/", accounts.end_device, name="end_device"),
    path("babies/<id:admission_id>/", families.baby, name="baby"),
    path("babies/<id:admission_id>/still.jpg", stills.live_still, name="live_still"),
    path("clips/<id:clip_id>/", viewing.clip, name="clip"),
    path("clips/<id:clip_id>/index.m3u8", viewing.clip_playlist, name="clip_playlist"),
    path("clips/<id:clip_id>/keepsake/", keepsakes.keepsake, name="keepsake"),
    path("keepsakes/<id:keepsake_id>/", keepsakes.keepsake_page, name="keepsake_page"),
    path("keepsakes/<id:keepsake_id>/status.json", keepsakes.keepsake_status, name="keepsake_status"),
    path("keepsakes/<id:keepsake_id>/download/", keepsakes.keepsake_download, name="keepsake_download"),
    path("admissions/<id:admission_id>/clips/record/", viewing.record_clip, name="record_clip"),
    path("babies/<id:admission_id>/who-watched/", audit.who_watched, name="who_watched"),
    path("babies/<id:admission_id>/family/", families.family, name="family"),
    path("babies/<id:admission_id>/family/invite/", families.family_invite, name="family_invite"),
    path("family/<id:membership_id>/revoke/", families.revoke_relative, name="revoke_relative"),
    path("family/<id:membership_id>/end-sessions/", nurses.end_member_sessions, name="end_member_sessions"),
    path("units/", nurses.units, name="units"),
    path("units/<id:unit_id>/board/", ward.board, name="board"),
    path("units/<id:unit_id>/break-glass/", nurses.break_glass, name="break_glass"),
    path("units/<id:unit_id>/settings/", administrators.unit_settings, name="unit_settings"),
    path("units/<id:unit_id>/cameras/", cameras.cameras, name="cameras"),
    path("cameras/<id:camera_id>/", cameras.camera_edit, name="camera_edit"),
    path("cameras/<id:camera_id>/check/", cameras.camera_check, name="camera_check"),
    path("cameras/<id:camera_id>/retire/", cameras.camera_retire, name="camera_retire"),
    path("cameras/<id:camera_id>/zones/", zones.zones, name="zones"),
    path("cameras/<id:camera_id>/zones/picture.jpg", zones.zones_frame, name="zones_frame"),
    path("cameras/<id:camera_id>/zones/save/", zones.zones_save, name="zones_save"),
    path("cameras/<id:camera_id>/zones/undo/", zones.zones_undo, name="zones_undo"),
    path("units/<id:unit_id>/feed/", feed.feed_beds, name="feed_beds"),
    path("cameras/<id:camera_id>/pause/", nurses.pause_camera, name="pause_camera"),
    path("cameras/<id:camera_id>/resume/", nurses.resume_camera, name="resume_camera"),
    path("cameras/<id:camera_id>/daily-clip/", nurses.daily_clip, name="daily_clip"),
    path("beds/<id:bed_id>/", nurses.bed, name="bed"),
    path("beds/<id:bed_id>/admit/", nurses.admit, name="admit"),
    path("admissions/<id:admission_id>/invite/", nurses.invite, name="invite"),
    path("admissions/<id:admission_id>/discharge/", nurses.discharge, name="discharge"),
    path("admissions/<id:admission_id>/transfer/", nurses.transfer, name="transfer"),
    path("babies/<id:admission_id>/consent/", families.consent, name="consent"),
    path("consent-withdrawn/", families.consent_withdrawn, name="consent_withdrawn"),
    path("family/<id:membership_id>/contact/", nurses.reveal_contact, name="reveal_contact"),
    path("invitations/<id:invitation_id>/slip/", slips.invitation_slip, name="invitation_slip"),
    path("invitations/<id:invitation_id>/revoke/", slips.revoke_invitation, name="revoke_invitation"),
    path("audit/", audit.audit_search, name="audit_search"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
    path("audit/alerts/", audit.alerts, name="alerts"),
    path("traces/", forensics.traces, name="traces"),
    path("traces/code/", forensics.trace_code, name="trace_code"),
    path("traces/<id:job_id>/", forensics.trace_job, name="trace_job"),
    path("traces/<id:job_id>/status.json", forensics.trace_status, name="trace_status"),
    path("traces/<id:job_id>/report/", forensics.trace_report, name="trace_report"),
    path("traces/<id:job_id>/report.json", forensics.trace_report_json, name="trace_report_json"),
    path("traces/<id:job_id>/report.pdf", forensics.trace_report_pdf, name="trace_report_pdf"),
    path("api/v1/", api.urls),
    path("", include("cradle.updates.urls")),
    path("", include("cradle.notifications.urls")),
]

handler404 = "cradle.web.views.not_found"
handler500 = "cradle.web.unavailable.server_error"
