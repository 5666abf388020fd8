import { useEffect, useState } from "preact/hooks";
import { t } from "../../i18n/index.ts";
import { Header, Message } from "../common.tsx";
import {
  enrolDevice, invitePerson, listDevices, listPeople, revokeDevice, revokePerson,
  type Device, type Enrolment, type Invitation, type PersonRow,
} from "../people/api.ts";
import { when } from "../people/format.ts";

const ROLES = ["surgeon", "nurse", "security_officer", "administrator"] as const;

/** Administrators: enrol (code + QR) and revoke devices; invite (link + QR) and revoke people. */
export function AdminScreen(props: { right: preact.ComponentChildren }) {
  const [devices, setDevices] = useState<Device[]>([]);
  const [people, setPeople] = useState<PersonRow[]>([]);
  const [label, setLabel] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<string>("surgeon");
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [invitation, setInvitation] = useState<Invitation | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reload = async () => {
    try {
      setDevices((await listDevices()).devices);
      setPeople((await listPeople()).people);
    } catch {
      setError(t("people.loadFailed"));
    }
  };
  useEffect(() => void reload(), []);

  const act = (work: () => Promise<unknown>) => async (e?: Event) => {
    e?.preventDefault();
    setError(null);
    try {
      await work();
      await reload();
    } catch {
      setError(t("people.actionFailed"));
    }
  };

  return (
    <main class="screen" data-screen="admin">
      <Header title={t("admin.title")} right={props.right} />
      {error ? <Message kind="error">{error}</Message> : null}
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
        </ul>
      </section>
      <section class="card">
        <h2>{t("admin.people")}</h2>
        <form class="actions" onSubmit={act(async () => name.trim() && setInvitation(await invitePerson(name.trim(), [role])))}>
          <input class="input" name="person-name" maxLength={120} placeholder={t("admin.personName")} value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <select class="input" name="role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            {ROLES.map((r) => <option value={r} key={r}>{t(`role.${r}`)}</option>)}
          </select>
          <button type="submit" class="btn btn-primary">{t("admin.invite")}</button>
        </form>
        {invitation ? (
          <div class="card-info" data-testid="invitation">
            <p>{t("admin.inviteShow", { when: when(invitation.expires_at) })}</p>
            <p class="mono small" style={{ wordBreak: "break-all" }}>{invitation.registration_url}</p>
            <img src={invitation.qr_svg} width={220} height={220} alt={t("admin.qrAlt")} />
          </div>
        ) : null}
        <ul class="list">
          {people.map((p) => (
            <li class="list-row" key={p.id}>
              <div>
                <strong>{p.name}</strong>
                <div class="small muted">
                  {p.roles.map((r) => t(`role.${r as (typeof ROLES)[number]}`)).join(", ")} · {p.revoked_at ? t("admin.revoked") : t("admin.passkeys", { count: p.passkeys })}
                </div>
              </div>
              {p.revoked_at ? null : (
                <button type="button" class="btn btn-small" onClick={() => confirm(t("admin.revokePersonConfirm", { name: p.name })) && void act(() => revokePerson(p.id))()}>
                  {t("admin.revoke")}
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
