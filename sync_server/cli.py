"""The ``clinphoto`` command: serve, enrol and revoke devices, verify the audit, rotate keys."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from crypto import KeyStore

from .audit.log import AuditEvent, record
from .auth import devices, people
from .auth.permissions import ROLES
from .auth.sessions import load_keys, rotate_keys
from .db import Db, with_db
from .settings import Settings, SettingsError
from .storage.private import UnsafeKeyPermissions, check_keys_private

COMMANDS: dict[str, str] = {}  # name -> help; the docs test checks each is in the README


def _print_code(code: str, expires: datetime, label: str) -> None:
    print(f"One-time enrolment code for device {label!r} (valid until {expires:%Y-%m-%d %H:%M} UTC):")
    print(code)


def _print_admin_link(link: str, expires: str, who: str = "an administrator") -> None:
    print(f"One-time link to register {who}'s passkey (valid until {expires}):", flush=True)
    print(link, flush=True)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from .app import create_app
    from .listener.banner import banner
    from .listener.plan import PlanError, make_plan
    from .listener.serve import BindError, bind, serve
    from .listener.tls import Certificates, TlsError

    try:
        check_keys_private(settings.resolved_keys_dir)
    except UnsafeKeyPermissions as unsafe:
        print(f"clinphoto: {unsafe}", file=sys.stderr)
        return 3
    try:
        plan = make_plan(settings)
        sockets = bind(plan)
    except (PlanError, BindError) as exc:
        print(f"clinphoto: {exc}", file=sys.stderr)
        return 2
    KeyStore.open(settings.resolved_keys_dir)  # keys exist before the first request
    load_keys(settings.resolved_keys_dir)  # and the session cookie keys
    certificates = None
    if plan.tls:
        certificates = Certificates(plan.public_host, ward=plan.ward_ca, cert_file=plan.cert_file,
                                    key_file=plan.key_file)
        try:
            certificates.refresh()
        except TlsError as exc:
            print(f"clinphoto: {exc}", file=sys.stderr)
            return 2

    async def first_start(store: Db) -> None:
        if not await devices.has_devices(store):
            code, expires = await devices.create_enrollment_code(
                store, "first device", settings.enrollment_code_ttl_seconds, actor="system:first-start")
            print("No device is enrolled yet.", flush=True)
            _print_code(code, expires, "first device")
            print(f"Open {plan.public_url}/ on the phone and type this code.", flush=True)
        if not await people.has_administrator(store):
            link, link_expires = await people.first_admin_link(store, settings)
            _print_admin_link(link, link_expires)

    asyncio.run(with_db(settings, first_start))
    print(banner(plan, certificates.ca_fingerprint if certificates else None), end="", flush=True)
    serve(settings, plan, create_app(settings), certificates, sockets)
    return 0


def cmd_enroll_device(settings: Settings, args: argparse.Namespace) -> int:
    code, expires = asyncio.run(with_db(settings, lambda store: devices.create_enrollment_code(
        store, args.label, args.ttl or settings.enrollment_code_ttl_seconds)))
    _print_code(code, expires, args.label)
    return 0


def cmd_revoke_device(settings: Settings, args: argparse.Namespace) -> int:
    if not asyncio.run(with_db(settings, lambda store: devices.revoke(store, args.device_id))):
        print(f"No device {args.device_id}.", file=sys.stderr)
        return 1
    print(f"Device {args.device_id} is revoked: its next contact is refused and it erases its data.")
    return 0


def _department(text: str) -> str | None:
    department = text.strip()
    if not department or len(department) > 40 or not department.isprintable():
        print("The department is 1 to 40 printable characters, as the ADT feed names it (PV1-10 or PV1-3).",
              file=sys.stderr)
        return None
    return department


def _set_department(kind: str, serves: str) -> Callable[[Settings, argparse.Namespace], int]:
    """The command that sets a phone's (``kind`` "device") or a person's department."""
    def run(settings: Settings, args: argparse.Namespace) -> int:
        department = _department(args.department)
        if department is None:
            return 2
        subject = getattr(args, f"{kind}_id")
        if not asyncio.run(with_db(settings, lambda store: devices.set_department(store, kind, subject, department))):
            print(f"No {kind} {subject}.", file=sys.stderr)
            return 1
        print(f"{kind.capitalize()} {subject} {serves} {department}: its patients of the day are listed on the phone.")
        return 0
    return run


cmd_set_device_department = _set_department("device", "serves")
cmd_set_person_department = _set_department("person", "works in")


def cmd_list_devices(settings: Settings, args: argparse.Namespace) -> int:
    async def both(store: Db) -> tuple[list[dict], list[dict]]:
        return await devices.list_devices(store), await devices.list_pending(store)

    rows, pending = asyncio.run(with_db(settings, both))
    if args.json:
        print(json.dumps([{**r, "state": "revoked" if r["revoked_at"] else "active"} for r in rows]
                         + [{**p, "state": "pending"} for p in pending], indent=2))
        return 0
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        print(f"{row['id']}  {state:8}  last seen {row['last_seen_at'] or 'never':20}  {row['label']}")
    for row in pending:  # answered, not confirmed: not a device; dies with its code
        print(f"{row['id']}  {'pending':8}  until {row['expires_at']:24}  {row['label']}")
    return 0


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    return _invite(settings, args.name, ["administrator"], "an administrator")


def cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    return _invite(settings, args.name, args.role, args.name)


def _invite(settings: Settings, name: str, roles: list[str], who: str) -> int:
    """A person (audited `person.create`, by `cli`) and their one-time registration link."""
    async def work(store: Db) -> tuple[str, str]:
        _, token, expires = await people.invite(store, name, people.check_roles(roles), "cli:admin",
                                                settings.invitation_ttl_seconds)
        return people.registration_link(settings, token), expires

    link, expires = asyncio.run(with_db(settings, work))
    _print_admin_link(link, expires, who)
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    from .audit.commands import run_verify

    return run_verify(settings, args.trusted, args.export, args.key or [])


def cmd_audit_export(settings: Settings, args: argparse.Namespace) -> int:
    from .audit.commands import run_export

    return run_export(settings, args.out)


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from .storage.rotation import rewrap_objects

    keys = KeyStore.open(settings.resolved_keys_dir)
    if args.which == "kek":
        new_id = keys.rotate_kek()
        count = asyncio.run(with_db(settings, lambda store: rewrap_objects(store, keys, settings.objects_dir)))
        print(f"New key-encryption key {new_id}; {count} stored objects re-wrapped (data not re-encrypted).")
    elif args.which == "session":
        kept = rotate_keys(settings.resolved_keys_dir)
        new_id = f"session-{kept}"
        print(f"New session cookie key; {kept} kept, so people stay signed in. Restart the server to use it.")
    elif args.which == "seal":
        new_id = keys.rotate_seal_key()
        print(f"New sealing key {new_id}; devices pick it up at their next sync. Older seals still open.")
    else:
        new_id = keys.rotate_sign_key()
        print(f"New receipt-signing key {new_id}; older receipts still verify with the published older keys.")
    asyncio.run(with_db(settings, lambda store: record(store, AuditEvent(
        action="keys.rotate", actor="cli:admin", detail={"which": args.which, "key_id": new_id}))))
    return 0


def cmd_storage_check(settings: Settings, args: argparse.Namespace) -> int:
    from .storage.check import check_objects
    from .storage.objects import ObjectStore

    keys = KeyStore.open(settings.resolved_keys_dir)

    async def run(store: Db) -> list[Any]:
        rows = await store.fetch_all("SELECT id, sha256, storage_key FROM photo WHERE storage_key IS NOT NULL "
                                     "AND state IN ('filed', 'verified', 'quarantined') ORDER BY id")
        damaged = await asyncio.to_thread(check_objects, [dict(r) for r in rows], ObjectStore(settings.objects_dir),
                                          keys.keks)
        await record(store, AuditEvent(action="storage.check", actor="cli:admin", detail={
            "checked": len(rows), "damaged": [{"photo_id": d.photo_id, "problem": d.problem} for d in damaged]}))
        print(f"{len(rows)} filed photos checked, {len(damaged)} damaged.")
        return damaged

    damaged = asyncio.run(with_db(settings, run))
    for d in damaged:
        print(f"damaged: photo {d.photo_id}: {d.problem}")
    return 1 if damaged else 0


def cmd_import_patients(settings: Settings, args: argparse.Namespace) -> int:
    from .interop.patients import IdentityError, import_csv

    try:
        text = open(args.file, encoding="utf-8-sig").read()
        count, released = asyncio.run(with_db(settings, lambda store: import_csv(store, text)))
    except (OSError, IdentityError) as exc:
        print(f"Nothing imported: {exc}", file=sys.stderr)
        return 1
    print(f"{count} patients imported into the index; {len(released)} sequences left the quarantine.")
    return 0


def cmd_stats(settings: Settings, args: argparse.Namespace) -> int:
    from .clinical import stats

    async def work(store: Db) -> dict[str, Any]:
        await stats.ensure_built(store, store.fields.keys)  # a database no server of this version opened yet
        return await stats.compute(store, args.start, args.end)
    figures = asyncio.run(with_db(settings, work))
    if args.format == "json":
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    elif args.format == "csv":
        sys.stdout.write(stats.to_csv(figures))
    else:
        sys.stdout.write(stats.to_text(figures))
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from .backup import BackupError, backup

    try:
        document = backup(settings, args.out, args.keys_out)
    except (BackupError, OSError) as exc:
        print(f"clinphoto: backup failed: {exc}", file=sys.stderr)
        return 1
    counts = document["counts"]
    print(f"Backup written to {args.out} ({document['database']} database): {counts['photos']} photos, "
          f"{counts['renditions']} renditions, {counts['objects']} stored objects, {counts['audit_entries']} "
          f"audit entries; SHA-256 of every file in {args.out / 'manifest.json'}.")
    keys_dir = args.keys_out or args.out / "keys"
    print(f"The keys ({counts['key_files']} files) are in {keys_dir}: they are what makes the photos readable. "
          "Store them apart from the rest of the backup (another medium, another place).")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from .backup import BackupError, restore

    try:
        result = restore(settings, args.source, args.keys_from)
    except (BackupError, OSError) as exc:
        print(f"clinphoto: restore refused: {exc}", file=sys.stderr)
        return 1
    print(f"Restored into {settings.data_dir}.")
    for problem in result.bad:
        print(f"FAILED: {problem}")
    print(f"Photos verified: {result.photos} decrypt to the SHA-256 recorded at receipt"
          f"{f', {len(result.bad)} FAILED' if result.bad else ''}; {result.renditions} renditions open.")
    if result.audit_problem:
        print(f"Audit chain BROKEN {result.audit_problem}.")
    else:
        print(f"Audit chain verified: {result.audit_entries} entries, unbroken.")
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinphoto", description="ClinPhoto sync server.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help: str, func: Callable[[Settings, argparse.Namespace], int]) -> argparse.ArgumentParser:
        COMMANDS[name] = help
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    add("serve", "Start the server (API and capture app); prints the address phones open with its QR code (and the ward "
        "CA's fingerprint), and on first start an enrolment code and an administrator link.", cmd_serve)
    p = add("enroll-device", "Print a one-time code that enrols one device.", cmd_enroll_device)
    p.add_argument("--label", required=True, help="Who or where the device is, e.g. 'Bloc 3 phone'.")
    p.add_argument("--ttl", type=int, default=None, help="Seconds the code stays valid.")
    p = add("revoke-device", "Revoke a device: its next contact gets 401 and it wipes its data.", cmd_revoke_device)
    p.add_argument("device_id")
    p = add("set-device-department", "Set the department a phone serves (as the ADT feed names it): the phone "
            "gets that department's patients of the day to confirm who is photographed.", cmd_set_device_department)
    p.add_argument("device_id")
    p.add_argument("department")
    p = add("set-person-department", "Set the department a person works in (as the ADT feed names it): the phones "
            "they unlock list its patients of the day (before the phone's own department).", cmd_set_person_department)
    p.add_argument("person_id")
    p.add_argument("department")
    p = add("list-devices", "List enrolled devices, their state and last contact, and enrolments awaiting confirmation.", cmd_list_devices)
    p.add_argument("--json", action="store_true")
    p = add("import-patients", "Import the hospital patient index from a CSV file (id,family,given,birth_date,sex).",
            cmd_import_patients)
    p.add_argument("file")
    p = add("create-admin", "Print a one-time link that registers a new administrator's passkey.", cmd_create_admin)
    p.add_argument("--name", default="Administrator", help="The administrator's name, as shown to others.")
    p = add("invite", "Print a one-time link that registers a new person's passkey (a surgeon, before they add "
            "themselves to a phone; the admin screen does the same).", cmd_invite)
    p.add_argument("--name", required=True, help="The person's name, as photos and the audit will show it.")
    p.add_argument("--role", action="append", required=True, choices=sorted(ROLES),
                   help="A role (repeat for several).")
    p = add("stats", "Print activity figures (patients, sequences, photos) by month, surgeon and procedure.", cmd_stats)
    p.add_argument("--format", choices=["json", "csv", "text"], default="text")
    p.add_argument("--from", dest="start", default=None, metavar="YYYY-MM", help="First month counted.")
    p.add_argument("--to", dest="end", default=None, metavar="YYYY-MM", help="Last month counted.")
    p = add("backup", "Back up the running install to a new folder: database (online), encrypted photos, keys "
            "(in DIR/keys or --keys-out: store them apart) and a manifest of SHA-256.", cmd_backup)
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--keys-out", type=Path, default=None, metavar="KEYDIR",
                   help="Write the keys here instead of DIR/keys (another medium: keys decrypt the photos).")
    p = add("restore", "Restore a backup into an empty data folder, then verify every photo's SHA-256 and the "
            "audit chain.", cmd_restore)
    p.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR")
    p.add_argument("--keys-from", type=Path, default=None, metavar="KEYDIR",
                   help="Where the keys were stored, if not DIR/keys.")
    audit = add("audit", "Audit trail tools.", lambda s, a: 2)
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    v = audit_sub.add_parser("verify", help="Check the audit hash chain; names the first bad entry.")
    v.add_argument("--trusted", type=Path, default=None, metavar="CHECKPOINT",
                   help="A signed checkpoint you kept: recompute the Merkle tree and check the log against it.")
    v.add_argument("--export", type=Path, default=None, metavar="DIR",
                   help="Verify this export instead of the live database.")
    v.add_argument("--key", action="append", metavar="VKEY",
                   help="Verifier key (text or file); default: CHECKPOINT.vkey or log.vkey beside it.")
    v.set_defaults(func=cmd_audit_verify)
    COMMANDS["audit verify"] = "Check the audit hash chain; names the first bad entry."
    COMMANDS["audit verify --trusted CHECKPOINT [--export DIR]"] = (
        "Check the log (live or exported) against a checkpoint you kept: tree, chain, signatures.")
    e = audit_sub.add_parser("export", help="Write the audit log, its checkpoints and FHIR AuditEvents to a folder.")
    e.add_argument("--out", type=Path, required=True, metavar="DIR")
    e.set_defaults(func=cmd_audit_export)
    COMMANDS["audit export --out DIR"] = "Write the audit log, its checkpoints and FHIR AuditEvents to a folder."
    storage = add("storage", "Hospital storage tools.", lambda s, a: 2)
    storage_sub = storage.add_subparsers(dest="storage_command", required=True)
    c = storage_sub.add_parser("check", help="Read back every filed photo and report those whose content no longer "
                               "matches its recorded hash (exit 1 if any).")
    c.set_defaults(func=cmd_storage_check)
    COMMANDS["storage check"] = ("Read back every filed photo and report those whose content no longer matches its "
                                 "recorded hash (exit 1 if any).")
    keys = add("keys", "Key management.", lambda s, a: 2)
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    r = keys_sub.add_parser("rotate", help="Rotate a key: kek (re-wraps stored objects), seal, sign or session (cookie signing).")
    r.add_argument("which", nargs="?", choices=["kek", "seal", "sign", "session"], default="kek")
    r.set_defaults(func=cmd_keys_rotate)
    COMMANDS["keys rotate"] = "Rotate a key: kek (re-wraps stored objects), seal, sign or session (cookie signing)."
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    os.umask(0o077)  # whatever the server or a command creates is its account's alone
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"clinphoto: {exc}", file=sys.stderr)
        return 2
    return int(args.func(settings, args))


if __name__ == "__main__":
    sys.exit(main())
