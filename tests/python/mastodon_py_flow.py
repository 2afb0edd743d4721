#!/usr/bin/env python3
"""Registration, approval, login and a profile edit, driven by the Mastodon.py client library.

Usage: python3 tests/python/mastodon_py_flow.py BASE_URL ADMIN_TOKEN

BASE_URL is a peerpx node (plain http on loopback is fine, e.g. http://127.0.0.1:8080) whose
registrations need approval; ADMIN_TOKEN is a token of a staff account with the scopes
`admin:read admin:write`. Every call to the node goes through Mastodon.py's own API methods, the
way a third-party app would make them; only the avatar image is fetched with plain `requests`.
Prints one line per step and exits non-zero, with the reason, on the first failure.
"""

import importlib.metadata
import os
import secrets
import sys
import traceback
from urllib.parse import urlsplit

import requests
from mastodon import Mastodon, MastodonAPIError, MastodonIllegalArgumentError

AVATAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "astronaut-exif-gps.jpg")
SCOPES = ["read", "write", "follow"]
TIMEOUT = 30


class Failure(Exception):
    """A check that did not hold."""


def check(condition, message):
    # Not `assert`: the checks must also hold under `python3 -O`.
    if not condition:
        raise Failure(message)


def step(message):
    print(f"-- {message}", flush=True)


def client(base, **kwargs):
    # "throw": a 429 fails the run at once instead of sleeping and retrying.
    return Mastodon(
        api_base_url=base,
        ratelimit_method="throw",
        version_check_mode="none",
        request_timeout=TIMEOUT,
        **kwargs,
    )


def api_status(error):
    """The HTTP status of a MastodonAPIError (its args are message, status, reason, error)."""
    return error.args[1] if len(error.args) > 1 else None


def api_message(error):
    return error.args[3] if len(error.args) > 3 else str(error)


def run(base, admin_token):
    domain = urlsplit(base).netloc
    username = f"mpy_{secrets.token_hex(4)}"
    email = f"{username}@example.org"
    password = f"correct horse {secrets.token_hex(4)}"

    step(f"Mastodon.py {importlib.metadata.version('Mastodon.py')}: create_app on {base}")
    client_id, client_secret = Mastodon.create_app(
        "Mastodon.py e2e",
        scopes=SCOPES,
        website="https://example.org/mastodon-py-e2e",
        api_base_url=base,
        request_timeout=TIMEOUT,
    )
    check(isinstance(client_id, str) and client_id, f"create_app gave no client_id: {client_id!r}")
    check(isinstance(client_secret, str) and client_secret, "create_app gave no client_secret")
    app = client(base, client_id=client_id, client_secret=client_secret)

    step("instance_v2() before registering: approval is required")
    info = app.instance_v2()
    check(info.registrations.enabled is True, f"registrations are not enabled: {info.registrations!r}")
    check(
        info.registrations.approval_required is True,
        f"the node should require approval (the default mode): {info.registrations!r}",
    )

    step(f"create_account({username!r}, ..., {email!r})")
    early_token = app.create_account(
        username, password, email, agreement=True, locale="en", reason="I take photos.", scopes=SCOPES
    )
    check(isinstance(early_token, str) and early_token, f"create_account returned {early_token!r}")

    step("the registration token is refused while approval is pending (403)")
    early = client(base, client_id=client_id, client_secret=client_secret, access_token=early_token)
    try:
        me = early.account_verify_credentials()
        raise Failure(f"verify_credentials with a pending account's token should fail, got {me!r}")
    except MastodonAPIError as e:
        check(api_status(e) == 403, f"expected 403 for a pending account, got {e.args!r}")
        check("pending approval" in str(api_message(e)), f"the 403 should say approval is pending: {e.args!r}")
        print(f"   refused as expected: {api_message(e)}", flush=True)

    step("log_in before approval is refused (400 invalid_grant)")
    try:
        client(base, client_id=client_id, client_secret=client_secret).log_in(
            username=email, password=password, scopes=SCOPES
        )
        raise Failure("log_in should fail while the account awaits approval")
    except MastodonIllegalArgumentError as e:
        # Mastodon.py keeps the OAuth `error` code, not the node's `error_description`; the same
        # password succeeds after approval below, so this refusal is the pending state's.
        check("400" in str(e) and "invalid_grant" in str(e), f"expected 400 invalid_grant: {e}")
        print(f"   refused as expected: {e}", flush=True)

    admin = client(base, access_token=admin_token)

    step('admin_accounts_v2(status="pending") lists the new account')
    pending = admin.admin_accounts_v2(status="pending")
    found = [a for a in pending if a.username == username]
    check(len(found) == 1, f"{username} not in pending accounts: {[a.username for a in pending]}")
    entry = found[0]
    check(entry.approved is False, f"a pending account should say approved=false: {entry!r}")
    check(entry.email == email, f"admin account email {entry.email!r} != {email!r}")
    check(entry.invite_request == "I take photos.", f"the reason was not kept: {entry.invite_request!r}")
    check(entry.account.username == username, f"nested account is wrong: {entry.account!r}")

    step('admin_accounts_v1(status="pending") agrees')
    # Mastodon.py 2.3.3 annotates this one as a single AdminAccount, so the items stay plain dicts.
    pending_v1 = admin.admin_accounts_v1(status="pending")
    check(
        [a["id"] for a in pending_v1 if a["username"] == username] == [entry.id],
        f"v1 pending listing disagrees: {[(a['id'], a['username']) for a in pending_v1]}",
    )

    step(f"admin_account_approve({entry.id})")
    approved = admin.admin_account_approve(entry.id)
    check(approved.id == entry.id, f"approve returned another account: {approved!r}")
    check(approved.approved is True, f"approve should return approved=true: {approved!r}")
    still_pending = [a.username for a in admin.admin_accounts_v2(status="pending")]
    check(username not in still_pending, f"{username} is still pending after approval: {still_pending}")
    check(admin.admin_account(entry.id).approved is True, "admin_account does not show the approval")

    step("the registration token works once the account is approved")
    check(early.account_verify_credentials().username == username, "early token sees another account")

    step("log_in(username=EMAIL) with the password grant")
    user = client(base, client_id=client_id, client_secret=client_secret)
    token = user.log_in(username=email, password=password, scopes=SCOPES)
    check(isinstance(token, str) and token, f"log_in returned {token!r}")

    step("account_verify_credentials()")
    me = user.account_verify_credentials()
    check(me.username == username, f"verify_credentials username {me.username!r} != {username!r}")
    check(me.acct == username, f"a local account's acct should be the bare username, got {me.acct!r}")
    check(me.id == entry.id, f"verify_credentials id {me.id!r} != admin id {entry.id!r}")
    check(me.source.language == "en", f"source.language should be the registration locale: {me.source!r}")

    step("log_in(username=USERNAME) also works")
    by_name = client(base, client_id=client_id, client_secret=client_secret)
    by_name.log_in(username=username, password=password, scopes=SCOPES)
    check(by_name.account_verify_credentials().id == me.id, "login by username gave another account")

    step("account_update_credentials(display_name, note, fields, avatar)")
    display_name = "Ada \u00c9clair"
    note = "Street photography.\n\nMostly film."
    updated = user.account_update_credentials(
        display_name=display_name,
        note=note,
        fields=[("Camera", "X-T4")],
        avatar=AVATAR,
    )
    check(updated.display_name == display_name, f"display_name not updated: {updated.display_name!r}")
    check(updated.source.note == note, f"source.note not updated: {updated.source.note!r}")
    check("Street photography." in updated.note, f"note HTML lacks the bio: {updated.note!r}")
    check(
        [(f.name, f.value) for f in updated.fields] == [("Camera", "X-T4")],
        f"fields not updated: {updated.fields!r}",
    )
    check(
        [(f.name, f.value) for f in updated.source.fields] == [("Camera", "X-T4")],
        f"source.fields not updated: {updated.source.fields!r}",
    )
    avatar_url = updated.avatar
    check(avatar_url and "missing.png" not in avatar_url, f"avatar not updated: {avatar_url!r}")
    check(avatar_url.startswith(base + "/"), f"avatar URL {avatar_url!r} is not on the node {base}")

    step(f"GET {avatar_url}")
    fetched = requests.get(avatar_url, timeout=TIMEOUT)
    content_type = fetched.headers.get("content-type", "")
    check(fetched.status_code == 200, f"avatar fetch gave HTTP {fetched.status_code}")
    check(content_type.startswith("image/"), f"avatar content-type is {content_type!r}")
    check(len(fetched.content) > 0, "avatar body is empty")

    step("account_verify_credentials() shows the edit")
    again = user.account_verify_credentials()
    check(again.display_name == display_name, f"edit not persisted: {again.display_name!r}")
    check(again.avatar == avatar_url, f"avatar changed between calls: {again.avatar!r} != {avatar_url!r}")

    step(f"account({me.id}) and account_lookup agree")
    shown = user.account(me.id)
    looked = user.account_lookup(username)
    looked_full = user.account_lookup(f"{username}@{domain}")
    anonymous = client(base).account(me.id)
    for label, a in [("account", shown), ("lookup", looked), ("lookup@domain", looked_full), ("anonymous", anonymous)]:
        check(a.id == me.id, f"{label}: id {a.id!r} != {me.id!r}")
        check(a.username == username, f"{label}: username {a.username!r}")
        check(a.acct == username, f"{label}: acct {a.acct!r}")
        check(a.display_name == display_name, f"{label}: display_name {a.display_name!r}")
        check(a.avatar == avatar_url, f"{label}: avatar {a.avatar!r}")
        check(
            [(f.name, f.value) for f in a.fields] == [("Camera", "X-T4")],
            f"{label}: fields {a.fields!r}",
        )
        # Mastodon.py's Account type fills absent keys with None.
        check(a.get("source") is None, f"{label}: a public account must not carry source: {a.source!r}")

    step("instance()")
    inst = user.instance()
    check(inst.version.startswith("4."), f"unexpected instance version {inst.version!r}")
    title = inst.get("title")
    check(title, f"instance has no title: {inst!r}")
    check(inst.get("domain", inst.get("uri")) == domain, f"instance domain is not {domain!r}: {inst!r}")
    v1 = user.instance_v1()
    check(v1.uri == domain, f"instance v1 uri {v1.uri!r} != {domain!r}")
    check(v1.stats.user_count >= 2, f"user_count should count root and {username}: {v1.stats!r}")
    print(f"   {title} runs {inst.version}", flush=True)

    print(f"OK: Mastodon.py registered {username}, got it approved, logged in and edited its profile")


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, admin_token = argv[1].rstrip("/"), argv[2]
    try:
        run(base, admin_token)
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        return 1
    except Exception as e:  # noqa: BLE001 - any library error fails the run with its trace
        traceback.print_exc(limit=-12)
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
