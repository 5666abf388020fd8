import { useEffect, useState } from "preact/hooks";
import { findToday, todayList, type TodayPatient } from "../../capture/today.ts";
import { newId } from "../../crypto/bytes.ts";
import { sealForm, type SequenceForm } from "../../crypto/formseal.ts";
import { encryptJson } from "../../crypto/localkey.ts";
import type { SealingKey } from "../../crypto/seal.ts";
import { errorText } from "../../i18n/errors.ts";
import { formatBytes, label, lang, t } from "../../i18n/index.ts";
import type { Store } from "../../storage/db.ts";
import { fits, health } from "../../storage/health.ts";
import { Header, Message, PatientBanner } from "../common.tsx";
import { defaultProtocol, isRequired, newFormValues, toEntry, validate, type Field, type FormValues } from "./form.ts";
import { FIELDS, PROTOCOLS, VIEWS } from "./schema.ts";

export interface SequenceSummary {
  patientId: string;
  values: FormValues;
  protocol: string;
  createdAt: string;
}

function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export function FormScreen(props: { store: Store; localKey: CryptoKey; sealing: SealingKey; patientId: string; onBack: () => void; onCreated: (sequenceId: string) => void;
  /** The person unlocked now: the sealed form names them (person_id). */
  personId: string }) {
  // Only the date is filled in: consent, laterality and phase are clinical answers the surgeon
  // must give, never defaults (the schema has no "default" for them either).
  const [values, setValues] = useState<FormValues>(() => newFormValues(today()));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // today's patients of the phone's department (kept sealed on the phone): the name and birth date to
  // confirm, offline too; not found, the sequence is marked unverified for the hospital to reconcile
  const [known, setKnown] = useState<{ found: TodayPatient | null; department: string | null; list: boolean } | null>(null);
  const l = lang();

  useEffect(() => {
    let live = true;
    todayList(props.store, props.localKey)
      .then((list) => live && setKnown({ found: findToday(list, props.patientId), department: list?.department ?? null, list: !!list }))
      .catch(() => live && setKnown({ found: null, department: null, list: false }));
    return () => { live = false; };
  }, [props.patientId]);

  function set(key: string, value: string) {
    const next = { ...values, [key]: value };
    if (key === "procedure" || key === "timing.phase") {
      const proto = defaultProtocol(PROTOCOLS, next);
      if (proto) next["view_protocol"] = proto;
    }
    setValues(next);
    if (errors[key]) setErrors({ ...errors, [key]: "" });
  }

  const protocol = PROTOCOLS.protocols[values["view_protocol"] ?? ""];

  async function submit(e: Event) {
    e.preventDefault();
    const errs = validate(FIELDS, values);
    setErrors(errs);
    if (Object.keys(errs).length) return setMessage(t("form.missing"));
    const room = fits(await health(), protocol?.views.length ?? 4);
    if (!room.ok) return setMessage(t("storage.noRoom", { needed: formatBytes(room.needed), free: formatBytes(room.free) }));
    setBusy(true);
    const id = newId();
    const createdAt = new Date().toISOString();
    const verified = findToday(await todayList(props.store, props.localKey).catch(() => null), props.patientId) !== null;
    const form = toEntry(FIELDS, values, {
      sequence_id: id, patient_id: props.patientId, created_at: createdAt, person_id: props.personId, patient_verified: verified,
    }) as SequenceForm;
    // Seal and encrypt first, then one IndexedDB write. For sync the phone keeps only the form
    // sealed to the hospital key (it cannot open it); the summary for display needs the unlock key.
    const summary: SequenceSummary = { patientId: props.patientId, values, protocol: values["view_protocol"] ?? "", createdAt };
    const rec = {
      id, createdAt, expectedViews: protocol?.views ?? [],
      sealedForm: (await sealForm(form, props.sealing)).sealed,
      summary: await encryptJson(props.localKey, summary, id),
      personId: props.personId,
    };
    const saved = await props.store.addSequence(rec);
    setBusy(false);
    if (!saved.ok) return setMessage(errorText(saved.error.code));
    props.onCreated(id);
  }

  return (
    <main class="screen" data-screen="form">
      <Header title={t("form.title")} onBack={props.onBack} />
      <PatientBanner id={props.patientId} today={known ?? undefined} />
      <form class="card" onSubmit={submit}>
        {FIELDS.map((f) => (
          <FieldInput key={f.key} field={f} value={values[f.key] ?? ""} error={errors[f.key]} required={isRequired(f, values)} onChange={(v) => set(f.key, v)} />
        ))}
        {protocol ? (
          <div class="checklist">
            <h2>{t("form.views")}</h2>
            <ol>
              {protocol.views.map((v) => (
                <li key={v}>{label(VIEWS.get(v)?.label, v, l)}</li>
              ))}
            </ol>
          </div>
        ) : null}
        {message ? <Message kind="error">{message}</Message> : null}
        <button type="submit" class="btn btn-primary btn-huge" disabled={busy} data-testid="start-photos">
          {t("form.start")}
        </button>
      </form>
    </main>
  );
}

function FieldInput(props: { field: Field; value: string; error?: string; required: boolean; onChange: (v: string) => void }) {
  const { field: f } = props;
  const l = lang();
  const title = `${f.label[l] ?? f.label.en}${props.required ? " *" : ""}`;
  const err = props.error ? <span class="field-error">{props.error === "required" ? t("common.required") : t("common.invalid")}</span> : null;
  if ((f.kind === "enum" || f.kind === "protocol") && f.options.length <= 4) {
    return (
      <fieldset class={`field seg${props.error ? " has-error" : ""}`} data-field={f.key}>
        <legend>{title}</legend>
        <div class="seg-options">
          {f.options.map((o) => (
            <button type="button" key={o.value} class={`seg-btn${props.value === o.value ? " on" : ""}`} aria-pressed={props.value === o.value} data-value={o.value} onClick={() => props.onChange(o.value)}>
              {o.label[l] ?? o.value}
            </button>
          ))}
        </div>
        {err}
      </fieldset>
    );
  }
  if (f.kind === "enum" || f.kind === "protocol") {
    return (
      <label class={`field${props.error ? " has-error" : ""}`}>
        <span>{title}</span>
        <select class="input" name={f.key} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
          <option value="">—</option>
          {f.options.map((o) => (
            <option key={o.value} value={o.value}>{o.label[l] ?? o.value}</option>
          ))}
        </select>
        {err}
      </label>
    );
  }
  const common = { class: "input", name: f.key, value: props.value, onInput: (e: Event) => props.onChange((e.target as HTMLInputElement).value) };
  return (
    <label class={`field${props.error ? " has-error" : ""}`}>
      <span>{title}</span>
      {f.kind === "textarea" ? (
        <textarea {...common} rows={3} maxLength={f.schema.maxLength} />
      ) : (
        f.kind === "date" ? <input {...common} type="date" /> : <input {...common} type="text" inputMode={f.kind === "integer" ? "numeric" : "text"} maxLength={f.schema.maxLength} />
      )}
      {err}
    </label>
  );
}
