import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import {
  enrolDevice, invitePerson, listDevices, listPeople, reinvitePerson, revokeDevice, revokePerson, wardAddress,
  type Device, type Enrolment, type PendingEnrolment, type Invitation, type PersonRow, type WardAddress,
} from "../people/api.ts";
import type { Chrome } from "../people/Console.tsx";
import { problem, when } from "../people/format.ts";
import { ROLES, type Role } from "../../roles.ts";


type Link = Omit<Invitation, "person_id"> & { name: string; again: boolean };

/** Administrators: enrol (code + QR) and revoke devices; invite, invite again (link + QR) and revoke people. */
export function AdminScreen(props: Chrome) {
  const [devices, setDevices] = useState<Device[]>([]);
  const [pending, setPending] = useState<PendingEnrolment[]>([]);
  const [people, setPeople] = useState<PersonRow[]>([]);
  const [label, setLabel] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<string>("surgeon");
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [invitation, setInvitation] = useState<Link | null>(null);
  const [error, setError] = useState<unknown>(null); // worded at render, in the current language
  const [loadFailed, setLoadFailed] = useState(false);
  const [ward, setWard] = useState<WardAddress | null>(null);
  const linkCard = useRef<HTMLDivElement>(null);
  useEffect(() => linkCard.current?.scrollIntoView({ block: "nearest" }), [invitation]);

  const reload = async () => {
    try {
      const listed = await listDevices();
      setDevices(listed.devices);
      setPending(listed.pending_enrollments);
      setPeople((await listPeople()).people);
      setLoadFailed(false);
    } catch {
      setLoadFailed(true);
    }
  };
  useEffect(() => void reload(), []);
  useEffect(() => void wardAddress().then(setWard, () => setLoadFailed(true)), []);

  const act = (work: () => Promise<unknown>) => async (e?: Event) => {
    e?.preventDefault();
    setError(null);
    try {
      await work();
      await reload();
    } catch (err) {
      setError(err ?? new Error("failed"));
    }
  };

  return (
    <main class="screen" data-screen="admin">
      <Header title={t("admin.title")} right={props.right} />
      {props.top}
      {error !== null ? <Message kind="error">{problem(error)}</Message> : null}
      {loadFailed ? <Message kind="error">{t("people.loadFailed")}</Message> : null}
      <section class="card">
        <h2>{t("admin.devices")}</h2>
        <form class="actions" onSubmit={act(async () => label.trim() && setEnrolment(await enrolDevice(label.trim())))}>
          <input class="input" name="device-label" maxLength={120} placeholder={t("admin.deviceLabel")} value={label}
            onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
          <button type="submit" class="btn btn-primary">{t("admin.enrol")}</button>
        </form>
        {enrolment ? (
          <div class="card-info" data-testid="enrolment">
            <p>{t("admin.enrolShow", { when: when(enrolment.expires_at) })}</p>
            <p class="mono input-code">{enrolment.code}</p>
            <img src={enrolment.qr_svg} width={220} height={220} alt={t("admin.qrAlt")} />
          </div>
        ) : null}
        <ul class="list">
          {devices.map((d) => (
            <li class="list-row" key={d.id} data-testid="admin-device">
              <div>
                <strong>{d.label}</strong>
                <div class="small muted">
                  {d.revoked_at ? t("admin.revoked") : t("station.lastSeen", { when: when(d.last_seen_at) })} · {t("station.pending", { count: d.pending_batches })}
                </div>
              </div>
              {d.revoked_at ? null : (
                <button type="button" class="btn btn-small" onClick={() => confirm(t("admin.revokeDeviceConfirm", { label: d.label })) && void act(() => revokeDevice(d.id))()}>
                  {t("admin.revoke")}
                </button>
              )}
            </li>
          ))}
          {pending.map((p) => (
            <li class="list-row" key={`${p.label}-${p.expires_at}-${p.pending_device_id ?? ""}`} data-testid="admin-pending" data-state={p.state}>
              <div>
                <strong>{p.pending_label ?? p.label}</strong>
                <div class="small muted">
                  {t(p.state === "awaiting_confirmation" ? "admin.enrolAwaiting" : "admin.enrolUnused", { when: when(p.expires_at) })}
                </div>
              </div>
            </li>
          ))}
        </ul>
      </section>
      <section class="card">
        <h2>{t("admin.people")}</h2>
        <form class="actions invite-form" onSubmit={act(async () => name.trim() && setInvitation({ ...(await invitePerson(name.trim(), [role])), name: name.trim(), again: false }))}>
          <input class="input" name="person-name" maxLength={120} placeholder={t("admin.personName")} value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <select class="input" name="role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            {ROLES.map((r) => <option value={r} key={r}>{t(`role.${r}`)}</option>)}
          </select>
          <button type="submit" class="btn btn-primary">{t("admin.invite")}</button>
        </form>
        {invitation ? (
          <div class="card-info" data-testid="invitation" ref={linkCard}>
            {invitation.again ? <p><strong>{t("admin.reinviteFor", { name: invitation.name })}</strong></p> : null}
            <p>{t("admin.inviteShow", { when: when(invitation.expires_at) })}</p>
            <p class="mono small" style={{ wordBreak: "break-all" }}>{invitation.registration_url}</p>
            <img src={invitation.qr_svg} width={220} height={220} alt={t("admin.qrAlt")} />
          </div>
        ) : null}
        <ul class="list">
          {people.map((p) => (
            <li class="list-row list-row-wrap" key={p.id} data-testid="admin-person">
              <div class="grow">
                <strong class="wrap">{p.name}</strong>
                <div class="small muted">
                  {p.roles.map((r) => t(`role.${r as Role}`)).join(", ")} · {p.revoked_at ? t("admin.revoked") : t("admin.passkeys", { count: p.passkeys })}
                  {!p.revoked_at && p.invitation_expires_at ? ` · ${t("admin.linkPending", { when: when(p.invitation_expires_at) })}` : ""}
                </div>
              </div>
              {p.revoked_at ? null : (
                <div class="row-actions">
                  <button type="button" class="btn btn-small" data-testid="reinvite"
                    onClick={() => confirm(t("admin.reinviteConfirm", { name: p.name })) && void act(async () => {
                      setInvitation({ ...(await reinvitePerson(p.id)), name: p.name, again: true });
                    })()}>
                    {t("admin.reinvite")}
                  </button>
                  <button type="button" class="btn btn-small" data-testid="revoke-person"
                    onClick={() => confirm(t("admin.revokePersonConfirm", { name: p.name })) && void act(() => revokePerson(p.id))()}>
                    {t("admin.revoke")}
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      </section>
      {ward ? <WardPanel ward={ward} /> : null}
    </main>
  );
}

/** Where phones reach the server: the address and its QR code, and the ward CA's fingerprint to compare. */
function WardPanel({ ward }: { ward: WardAddress }) {
  const local = ward.tls === "none" && /^http:\/\/(127\.|localhost|\[::1\])/.test(ward.public_url);
  return (
    <section class="card" data-testid="ward-address">
      <h2>{t("admin.ward")}</h2>
      <p>{local ? t("admin.wardHere") : t("admin.wardOpen")}</p>
      <p class="mono small" style={{ wordBreak: "break-all" }}><a href={ward.public_url}>{ward.public_url}</a></p>
      {local ? null : <img src={ward.qr_svg} width={200} height={200} alt={t("admin.wardQrAlt")} />}
      {ward.ca_fingerprint ? (
        <>
          <p>{t("admin.wardCa")}</p>
          <p class="mono small" data-testid="ca-fingerprint">
            {ward.ca_fingerprint.split(":").map((pair, i) => <Fragment key={i}>{i ? <>:<wbr /></> : null}{pair}</Fragment>)}
          </p>
        </>
      ) : null}
      {ward.trust_url ? <p class="small">{t("admin.wardTrust", { url: ward.trust_url })}</p> : null}
      {ward.tls === "hospital" ? <p class="small muted">{t("admin.wardHospital")}</p> : null}
      {ward.tls === "proxy" ? <p class="small muted">{t("admin.wardProxy")}</p> : null}
      {local ? <p class="small muted">{t("admin.wardLocal")}</p> : null}
    </section>
  );
}
