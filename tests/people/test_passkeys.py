"""Passkeys at the py_webauthn level: real authenticator responses, every forgery refused, audited, harmless."""
from __future__ import annotations

from typing import Any, Callable

from sync_server.auth import people
from tests.people.authenticator import SoftAuthenticator
from tests.people.conftest import ORIGIN, Person, as_person, register, signin


def _sessions(call: Callable[..., Any], services: Any) -> int:
    return int(call(services.store.fetch_val, "SELECT COUNT(*) FROM web_session"))


def test_first_admin_link_registers_a_passkey_and_opens_a_session(http, services, call, audit):
    link, _ = call(people.first_admin_link, services.store, services.settings)
    assert link.startswith("http://localhost:8000/#/register/")  # never an IP address: passkeys need a domain
    finish = register(http, link)
    assert finish.status_code == 201
    cookie = finish.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    admin = as_person(http, finish)
    assert admin.roles == ["administrator"]
    me = admin.get("/api/v1/me").json()
    assert me["person"]["roles"] == ["administrator"] and len(me["passkeys"]) == 1
    assert call(people.has_administrator, services.store)
    registered = audit("passkey.register")[-1]
    assert registered["outcome"] == "0" and registered["detail"]["user_verified"] is True


def test_a_registration_link_works_once(http, services, call, audit):
    link, _ = call(people.first_admin_link, services.store, services.settings)
    assert register(http, link).status_code == 201
    again = http.post("/api/v1/auth/register/begin", json={"token": link.rsplit("/", 1)[-1]}, headers={"Origin": ORIGIN})
    assert again.status_code == 400 and again.json()["error"]["code"] == "invitation_invalid"
    assert audit("passkey.register")[-1]["detail"]["code"] == "invitation_invalid"


def test_signin_checks_user_verification_and_stores_the_sign_count(http, admin, services, call, audit):
    response = signin(http, admin.authn)
    assert response.status_code == 200
    assert call(services.store.fetch_val, "SELECT sign_count FROM passkey WHERE credential_id = :c",
                {"c": admin.authn.id}) == admin.authn.sign_count == 1
    assert audit("person.signin")[-1]["outcome"] == "0"


def test_replayed_assertion_is_refused(http, admin, services, call, audit):
    first = signin(http, admin.authn)
    assert first.status_code == 200
    http.cookies.clear()
    before = _sessions(call, services)
    replay = http.post("/api/v1/auth/signin/finish", json=first.sent, headers={"Origin": ORIGIN})  # type: ignore[attr-defined]
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "challenge_invalid"
    # the same assertion against a fresh challenge fails its signature check
    begin = http.post("/api/v1/auth/signin/begin", json={}, headers={"Origin": ORIGIN}).json()
    replay = http.post("/api/v1/auth/signin/finish", headers={"Origin": ORIGIN},
                       json={"challenge_id": begin["challenge_id"], "credential": first.sent["credential"]})  # type: ignore[attr-defined]
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "passkey_invalid"
    assert "set-cookie" not in replay.headers and _sessions(call, services) == before
    assert [e["outcome"] for e in audit("person.signin")[-2:]] == ["4", "4"]


def test_wrong_origin_is_refused(http, admin, audit):
    response = signin(http, admin.authn, origin="https://evil.example")
    assert response.status_code == 401 and response.json()["error"]["code"] == "passkey_invalid"
    assert "origin" in audit("person.signin")[-1]["detail"]["reason"].lower()


def test_wrong_rp_id_is_refused(http, admin, audit):
    response = signin(http, admin.authn, rp_id="evil.example")
    assert response.status_code == 401 and response.json()["error"]["code"] == "passkey_invalid"
    assert "rp id" in audit("person.signin")[-1]["detail"]["reason"].lower()


def test_missing_user_verification_is_refused_at_signin_and_registration(http, admin, services, call, audit):
    response = signin(http, admin.authn, uv=False)
    assert response.status_code == 401 and response.json()["error"]["code"] == "passkey_invalid"
    assert "verif" in audit("person.signin")[-1]["detail"]["reason"].lower()
    link, _ = call(people.first_admin_link, services.store, services.settings, actor="cli:admin")
    refused = register(http, link, uv=False)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "passkey_invalid"
    assert audit("passkey.register")[-1]["outcome"] == "4"


def test_sign_count_going_backwards_is_refused(http, admin, services, call, audit):
    assert signin(http, admin.authn).status_code == 200
    assert signin(http, admin.authn).status_code == 200  # stored count is 2 now
    cloned = signin(http, admin.authn, sign_count=1)
    assert cloned.status_code == 401 and cloned.json()["error"]["code"] == "passkey_invalid"
    assert "sign count" in audit("person.signin")[-1]["detail"]["reason"].lower()
    assert call(services.store.fetch_val, "SELECT sign_count FROM passkey WHERE credential_id = :c",
                {"c": admin.authn.id}) == 2


def test_unknown_credential_is_refused(http, admin, audit):
    stranger = SoftAuthenticator()
    response = signin(http, stranger)
    assert response.status_code == 401 and response.json()["error"]["code"] == "passkey_invalid"
    assert audit("person.signin")[-1]["detail"]["reason"] == "unknown credential"


def test_several_passkeys_per_person_and_removal_but_not_of_the_last(http, admin, audit):
    second = SoftAuthenticator()
    begin = admin.post("/api/v1/me/passkeys/begin").json()
    assert [c["id"] for c in begin["options"]["excludeCredentials"]] == [admin.authn.id]
    added = admin.post("/api/v1/me/passkeys/finish", json={"challenge_id": begin["challenge_id"],
                                                           "credential": second.create(begin["options"]), "label": "key 2"})
    assert added.status_code == 201 and len(added.json()["passkeys"]) == 2
    second.user_handle = admin.authn.user_handle
    assert signin(http, second).status_code == 200
    http.cookies.clear()
    assert admin.delete(f"/api/v1/me/passkeys/{admin.authn.id}").status_code == 204
    assert audit("passkey.remove")[-1]["object"] == f"passkey:{admin.authn.id}"
    assert signin(http, admin.authn).status_code == 401  # the removed passkey no longer signs in
    http.cookies.clear()
    last = admin.delete(f"/api/v1/me/passkeys/{second.id}")
    assert last.status_code == 409 and last.json()["error"]["code"] == "last_passkey"


def test_a_flood_of_failed_signins_from_one_address_is_throttled_and_audited(http, admin, services, audit):
    stranger = SoftAuthenticator()
    for _ in range(services.settings.signin_failures_per_address):
        assert signin(http, stranger).status_code == 401
    blocked = http.post("/api/v1/auth/signin/begin", json={}, headers={"Origin": ORIGIN})
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "signin_throttled"
    assert blocked.headers["retry-after"] == "60"
    assert audit("person.signin")[-1]["detail"]["code"] == "signin_throttled"


def test_enrolment_attempts_are_throttled_and_audited(http, audit, services, call):
    for _ in range(10):
        http.post("/api/v1/devices/enroll", json={"code": "AAAA-BBBB-CCCC"})
    blocked = http.post("/api/v1/devices/enroll", json={"code": "AAAA-BBBB-CCCC"})
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "enrollment_throttled"
    rows = call(services.store.fetch_all, "SELECT detail FROM audit_entry WHERE detail LIKE :p", {"p": "%enrollment_throttled%"})
    assert rows


def test_a_ceremony_started_by_one_person_cannot_be_finished_by_another(http, admin, person):
    surgeon = person("surgeon")
    begin = admin.post("/api/v1/me/passkeys/begin").json()
    stolen = SoftAuthenticator().create(begin["options"])
    taken = surgeon.post("/api/v1/me/passkeys/finish", json={"challenge_id": begin["challenge_id"], "credential": stolen})
    assert taken.status_code == 400 and taken.json()["error"]["code"] == "challenge_invalid"
    begin = admin.post("/api/v1/me/passkeys/begin").json()  # nor through the public invitation path
    public = http.post("/api/v1/auth/register/finish", headers={"Origin": ORIGIN}, json={
        "challenge_id": begin["challenge_id"], "credential": SoftAuthenticator().create(begin["options"])})
    assert public.status_code == 400 and "set-cookie" not in public.headers
    assert len(admin.get("/api/v1/me").json()["passkeys"]) == 1


def test_ten_failures_at_a_shared_ward_address_block_neither_colleagues_nor_newcomers(http, admin, person, audit):
    """A ward shares one NAT address: other people's failures must not lock out the next nurse or surgeon."""
    colleague = person("nurse", name="Nurse Colleague")
    invited = admin.post("/api/v1/admin/people", json={"name": "New Surgeon", "roles": ["surgeon"]})
    stranger = SoftAuthenticator()
    for _ in range(10):
        assert signin(http, stranger).status_code == 401
    http.cookies.clear()
    assert signin(http, colleague.authn).status_code == 200
    http.cookies.clear()
    assert register(http, invited.json()["registration_url"]).status_code == 201


def test_failures_against_one_account_throttle_that_account_not_the_address(http, admin, person, services, audit):
    victim, colleague = person("surgeon", name="Dr Victim"), person("surgeon", name="Dr Colleague")
    for _ in range(services.settings.signin_failures_per_account):
        forged = signin(http, victim.authn, origin="https://evil.example")
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "passkey_invalid"
    http.cookies.clear()
    blocked = signin(http, victim.authn)  # even with the genuine passkey, for a minute
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "signin_throttled"
    assert blocked.headers["retry-after"] == "60"
    refusal = audit("person.signin")[-1]
    assert refusal["detail"] == {"code": "signin_throttled", "scope": "account", "person": victim.id}
    assert signin(http, colleague.authn).status_code == 200  # the address is not blocked


def test_a_flooded_address_still_lets_a_valid_invitation_register(http, admin, services):
    invited = admin.post("/api/v1/admin/people", json={"name": "Night Nurse", "roles": ["nurse"]})
    stranger = SoftAuthenticator()
    for _ in range(services.settings.signin_failures_per_address):
        signin(http, stranger)
    assert http.post("/api/v1/auth/signin/begin", json={}, headers={"Origin": ORIGIN}).status_code == 429
    bogus = http.post("/api/v1/auth/register/begin", json={"token": "not-a-real-invitation-token"},
                      headers={"Origin": ORIGIN})
    assert bogus.status_code == 429
    http.cookies.clear()
    assert register(http, invited.json()["registration_url"]).status_code == 201
