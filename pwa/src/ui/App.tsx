import { useEffect, useState } from "preact/hooks";
import { sealingKeyOf, startServices, wipeEverything, type Services } from "../app.ts";
import type { SealingKey } from "../crypto/seal.ts";
import { isConfirmed, type DeviceRecord } from "../storage/db.ts";
import type { SyncError } from "../sync/protocol.ts";
import { CaptureScreen } from "./capture/CaptureScreen.tsx";
import { useLang } from "./common.tsx";
import { EnrolScreen } from "./enrol/EnrolScreen.tsx";
import { HomeScreen } from "./home/HomeScreen.tsx";
import type { PersonUnlock } from "../crypto/keywrap.ts";
import { refreshPeople, removePerson, unlockAs } from "../session/people.ts";
import { AddPersonScreen } from "./lock/AddPersonScreen.tsx";
import { PeopleBar } from "./lock/PeopleBar.tsx";
import { SetupScreen } from "./lock/SetupScreen.tsx";
import { UnlockScreen } from "./lock/UnlockScreen.tsx";
import { PatientScreen } from "./patient/PatientScreen.tsx";
import { FormScreen } from "./sequence/FormScreen.tsx";
import { StartFailedScreen } from "./start/StartFailedScreen.tsx";
import { WipedScreen } from "./wiped/WipedScreen.tsx";

type Route =
  | { name: "home" }
  | { name: "unlockPerson"; entry: PersonUnlock }
  | { name: "addPerson" }
  | { name: "patient" }
  | { name: "form"; patientId: string }
  | { name: "capture"; sequenceId: string };

export function App(props: { updateReady: boolean; onUpdate: () => void; onServices?: (s: Services) => void }) {
  useLang();
  const [svc, setSvc] = useState<Services | null>(null);
  const [device, setDevice] = useState<DeviceRecord | undefined>();
  const [people, setPeople] = useState<PersonUnlock[]>([]);
  const [sealing, setSealing] = useState<SealingKey | null>(null);
  const [route, setRoute] = useState<Route>({ name: "home" });
  const [wiped, setWiped] = useState<SyncError | null>(null);
  const [startFailed, setStartFailed] = useState(false);
  const [, setTick] = useState(0);

  useEffect(() => {
    let services: Services | undefined;
    void startServices(async (reason) => {
      setWiped(reason);
      services?.session.lock();
      await wipeEverything(services?.store);
    }).then(async (s) => {
      services = s;
      const d = await s.store.device();
      setDevice(d);
      setPeople(await s.store.people());
      if (isConfirmed(d)) {
        setSealing(await sealingKeyOf(d));
        // online: drop the people the server revoked (or who may no longer capture); offline, keep them
        void refreshPeople(s.store, s.base, d.credential).then(setPeople, () => undefined);
      }
      s.session.onChange(() => {
        setTick((n) => n + 1);
        if (!s.session.unlocked) setRoute({ name: "home" }); // auto-lock leaves every unlocked screen
      });
      const touch = () => s.session.touch();
      for (const ev of ["pointerdown", "keydown", "touchstart"]) addEventListener(ev, touch, { passive: true });
      setSvc(s);
      props.onServices?.(s);
    }).catch(() => setStartFailed(true)); // IndexedDB refused (private mode, quota, another tab upgrading)
  }, []);

  if (wiped) return <WipedScreen detail={wiped.message} />;
  if (startFailed) return <StartFailedScreen />;
  if (!svc) return <main class="screen" data-screen="loading" />;
  const { store, session, sync, base } = svc;

  if (!isConfirmed(device)) {
    return (
      <EnrolScreen store={store} base={base} pending={device} onEnrolled={async (d) => {
        setDevice(d);
        setSealing(await sealingKeyOf(d));
      }} />
    );
  }
  const asPerson = (key: CryptoKey, who: { id: string; name: string }) => session.open(key, who);
  const added = (vault: CryptoKey, list: PersonUnlock[], who: { id: string; name: string }) => {
    setPeople(list);
    asPerson(vault, who);
    setRoute({ name: "home" });
  };
  if (route.name === "addPerson") {
    return <AddPersonScreen store={store} base={base} credential={device.credential} vault={session.localKey} onDone={added}
      onBack={people.length ? () => setRoute({ name: "home" }) : undefined} />;
  }
  // Nobody on this phone yet (just enrolled, or a PIN forgotten by its only person): someone adds themselves.
  if (!people.length) return <SetupScreen onAddPerson={() => setRoute({ name: "addPerson" })} />;
  const peopleBar = (
    <PeopleBar people={people} current={session.person}
      onSwitching={() => session.lock()}
      onPin={(entry) => setRoute({ name: "unlockPerson", entry })}
      onUnlocked={(key, entry) => asPerson(key, { id: entry.personId, name: entry.name })}
      onAdd={session.localKey ? () => setRoute({ name: "addPerson" }) : undefined}
      onRemoveMe={async () => {
        const who = session.person;
        if (!who) return;
        await removePerson(store, base, device.credential, who.id);
        session.lock();
        setPeople(await store.people());
      }} />
  );

  // locked: the people of the phone are on the home screen, each with their own way in
  const needKey = (r: Route): Route => (session.localKey && session.person ? r : { name: "home" });
  const go = (r: Route) => setRoute(needKey(r));
  const home = () => setRoute({ name: "home" });

  switch (route.name) {
    case "unlockPerson":
      return <UnlockScreen record={route.entry} store={store} name={route.entry.name} onBack={home}
        open={(pin) => unlockAs(route.entry, pin)} onUnlocked={(key) => {
          asPerson(key, { id: route.entry.personId, name: route.entry.name });
          setRoute({ name: "home" });
        }} />;
    case "patient":
      return <PatientScreen onBack={home} onPatient={(patientId) => go({ name: "form", patientId })} />;
    case "form":
      if (!session.localKey || !session.person || !sealing) return null;
      return <FormScreen store={store} localKey={session.localKey} sealing={sealing} patientId={route.patientId} personId={session.person.id} onBack={() => go({ name: "patient" })}
        onCreated={(sequenceId) => go({ name: "capture", sequenceId })} />;
    case "capture":
      if (!session.localKey || !sealing) return null;
      return <CaptureScreen store={store} localKey={session.localKey} sealing={sealing} sequenceId={route.sequenceId} onBack={home} onDone={home} hold={() => session.hold()} base={base} person={session.person} />;
    default:
      return (
        <HomeScreen store={store} sync={sync} localKey={session.localKey} updateReady={props.updateReady && route.name === "home"}
          onNew={() => go({ name: "patient" })} onLock={() => session.lock()}
          onOpen={(sequenceId) => go({ name: "capture", sequenceId })} onUpdate={props.onUpdate} session={session} base={base}
          people={peopleBar} />
      );
  }
}
