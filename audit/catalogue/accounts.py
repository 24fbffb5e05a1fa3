"""Event types of accounts: sign-ins, sign-ups, tokens, suspensions, real names, minors, consents, access."""

from __future__ import annotations

from audit.catalogue.schema import CHANGE_ACTION, EventType, payload_key

_USERNAME_TRIED = payload_key("string", "The name that was tried.", required=True, pi=True)
_PHONE = payload_key("string", "The number, masked.", required=True, pi=True)

ACCOUNT_EVENTS: tuple[EventType, ...] = (
    # Accounts.
    EventType(
        "auth.login",
        "A user signed in.",
        {"method": payload_key("string", "password, token, ...")},
    ),
    EventType(
        "auth.login_failed",
        "A sign-in failed.",
        {
            "username": _USERNAME_TRIED,
            "reason": payload_key(
                "string", "bad_credentials, or locked_out (refused by the lockout, see auth.locked_out)."
            ),
        },
    ),
    EventType("auth.logout", "A user signed out."),
    EventType(
        "auth.locked_out",
        "A sign-in (web, admin or API token) was refused or locked out after too many failures for the account "
        "or the client address; the right password does not sign in until the cool-off period has passed.",
        {
            "username": _USERNAME_TRIED,
            "failure_limit": payload_key("integer", "Failed sign-ins that lock out."),
            "cool_off_seconds": payload_key("integer", "How long the lockout lasts after the last attempt."),
        },
    ),
    EventType(
        "auth.lockout_cleared",
        "An administrator cleared a record of failed sign-ins in the admin, which lifts a lockout before its "
        "cool-off period ends. One record for each record of failures cleared.",
        {
            "username": payload_key("string", "The name the failures were for.", required=True, pi=True),
            "ip_address": payload_key("string", "The client address the failures came from.", pi=True),
            "failures": payload_key("integer", "Failed sign-ins the record had counted."),
        },
    ),
    EventType(
        "user.signed_up",
        "Someone signed up. ``subject`` is the new account. When the e-mail address given already belongs to an "
        "account, the new account gets no address and that account's owner is told by e-mail.",
        {
            "email": payload_key("string", "The e-mail address given.", required=True, pi=True),
            "email_in_use": payload_key("boolean", "The address already belonged to an account (it was not stored)."),
        },
    ),
    EventType(
        "user.password_changed",
        "A user changed their password (signed in, knowing the old one); their API token ended with it "
        "(``user.token_revoked``). ``subject`` is the user.",
    ),
    EventType(
        "user.password_reset",
        "A password was set anew with a reset link sent by e-mail; the API token ended with it "
        "(``user.token_revoked``). ``subject`` is the user.",
    ),
    EventType(
        "user.token_created",
        "An API token was created. ``subject`` is the user.",
        {
            "how": payload_key(
                "string", "api (exchanged for the password) or account_page (a new token).", required=True
            )
        },
    ),
    EventType(
        "user.token_revoked",
        "An API token stopped working. ``subject`` is the user.",
        {
            "reason": payload_key(
                "string",
                "user (revoked by its owner), replaced (a new token replaced it), password_changed (the password "
                "was changed or reset, also by an operator), deactivated (the account was deactivated), "
                "closure_requested (the user asked to close the account) or closed.",
                required=True,
            ),
        },
    ),
    EventType(
        "user.suspended",
        "A user was suspended (e.g. after repeated violations). ``subject`` is the user.",
        {
            "reason": payload_key("string", "Why.", required=True),
            "violations": payload_key("integer", "Violations counted by the rule."),
            "until": payload_key("string", "ISO time the suspension ends, if it does."),
        },
    ),
    EventType(
        "user.reinstated",
        "A suspension was lifted. ``subject`` is the user.",
        {"reason": payload_key("string", "Why.")},
    ),
    EventType(
        "user.terms_accepted",
        "A user accepted the terms of service and the privacy policy in force. ``subject`` is the user.",
        {"documents": payload_key("array", "[{kind, version}] accepted.", required=True)},
    ),
    EventType(
        "user.phone_code_sent",
        "A one-time code for real-name verification was sent to a mobile number. ``subject`` is the user.",
        {"phone": _PHONE},
    ),
    EventType(
        "user.phone_verified",
        "A user verified a mobile number (real-name verification); they may now generate. ``subject`` is the user.",
        {
            "phone": _PHONE,
            "method": payload_key("string", "sms_code, or demo_data for the demo account."),
        },
    ),
    EventType(
        "user.minor_mode",
        "An account started in minor mode (a date of birth under the age of majority). ``subject`` is the user.",
        {
            "active": payload_key("boolean", "Whether minor mode applies.", required=True),
            "daily_jobs": payload_key("integer", "Jobs allowed a day."),
            "night_hours": payload_key("string", "Hours without service, local time."),
        },
    ),
    EventType(
        "user.guardian_consented",
        "A guardian consented to a minor's use of the service. ``subject`` is the minor's account.",
        {"guardian_phone": payload_key("string", "The guardian's number, masked.", pi=True)},
    ),
    EventType(
        "user.closure_requested",
        "A user asked to close their account; it closes after the cooling-off period. ``subject`` is the user.",
        {
            "effective_at": payload_key("string", "ISO time the account closes.", required=True),
            "cooling_off_days": payload_key("integer", "Days of the cooling-off period."),
        },
    ),
    EventType(
        "user.closure_cancelled",
        "A pending account closure was cancelled. ``subject`` is the user.",
        {
            "how": payload_key(
                "string", "signed_in or api_token: the user signed in again during the cooling-off period."
            )
        },
    ),
    EventType(
        "user.closed",
        "An account was closed: its personal data deleted or anonymised; the audit records stay for their "
        "retention. ``subject`` is the (anonymised) user.",
        {
            "requested_at": payload_key("string", "ISO time the closure was asked for."),
            "jobs_deleted": payload_key("integer", "Generation jobs deleted."),
            "outputs_deleted": payload_key("integer", "Outputs deleted."),
        },
    ),
    EventType(
        "user.consent_changed",
        "A user gave or withdrew a consent in their settings (or at sign-up). ``subject`` is the user.",
        {
            "consent": payload_key(
                "string",
                "inputs_for_training (prompts and parameters may help improve the nets) or labelling_obligation "
                "(content without the visible label, with the duty to label it).",
                required=True,
            ),
            "given": payload_key("boolean", "Whether the consent is now given.", required=True),
            "previous": payload_key("boolean", "Whether it was given before (absent: never recorded)."),
            "version": payload_key("string", "Version of the document consented to, if it has one."),
        },
    ),
    EventType(
        "user.history_deleted",
        "A user deleted their generation history: jobs and output files. The audit records of the jobs stay. "
        "``subject`` is the user.",
        {
            "jobs_deleted": payload_key("integer", "Jobs deleted (queued ones were cancelled first).", required=True),
            "outputs_deleted": payload_key("integer", "Outputs deleted, with their files.", required=True),
            "kept_running": payload_key("integer", "Jobs a worker was running, kept."),
        },
    ),
    EventType(
        "user.access_changed",
        "Who may do what changed for one account, in the admin or through the platform's role service "
        "(sign-up gives the end-user role, the demo data its users' roles): the account was created or "
        "deleted, or its active, staff or superuser flag, its roles (groups) or its own permissions changed. "
        "``subject`` is the user; the actor is who made the change, or system:... for the platform.",
        {
            "action": CHANGE_ACTION,
            "changes": payload_key(
                "object",
                "{field: [old, new]} for is_active, is_staff, is_superuser, groups (role names) and "
                "user_permissions (app_label.codename).",
                required=True,
            ),
        },
    ),
    EventType(
        "user.role_changed",
        "An administrator changed a role (a group): created, renamed or deleted it, or changed its permissions. "
        "``subject`` is the group.",
        {
            "action": CHANGE_ACTION,
            "changes": payload_key(
                "object", "{field: [old, new]} for name and permissions (app_label.codename).", required=True
            ),
        },
    ),
)
