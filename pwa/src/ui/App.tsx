import { useEffect, useState } from "preact/hooks";
import { sealingKeyOf, startServices, wipeEverything, type Services } from "../app.ts";
import type { SealingKey } from "../crypto/seal.ts";
import { isConfirmed, type DeviceRecord, type UnlockRecord } from "../storage/db.ts";
import type { SyncError } from "../sync/protocol.ts";
import { CaptureScreen } from "./capture/CaptureScreen.tsx";
import { useLang } from "./common.tsx";
import { EnrolScreen } from "./enrol/EnrolScreen.tsx";
import { HomeScreen } from "./home/HomeScreen.tsx";
import { SetupScreen } from "./lock/SetupScreen.tsx";
import { UnlockScreen } from "./lock/UnlockScreen.tsx";
import { PatientScreen } from "./patient/PatientScreen.tsx";
import { FormScreen } from "./sequence/FormScreen.tsx";
import { StartFailedScreen } from "./start/StartFailedScreen.tsx";
import { WipedScreen } from "./wiped/WipedScreen.tsx";

type Route =
  | { name: "home" }
  | { name: "unlock"; then: Route }
  | { name: "patient" }
  | { name: "form"; patientId: string }
  | { name: "capture"; sequenceId: string };

export function App(props: { updateReady: boolean; onUpdate: () => void; onServices?: (s: Services) => void }) {
  useLang();
  const [svc, setSvc] = useState<Services | null>(null);
  const [device, setDevice] = useState<DeviceRecord | undefined>();
  const [unlockRec, setUnlockRec] = useState<UnlockRecord | undefined>();
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
      setUnlockRec(await s.store.unlockRecord());
      if (isConfirmed(d)) setSealing(await sealingKeyOf(d));
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
  if (!unlockRec) {
    return (
      <SetupScreen store={store} label={device.label} onReady={async (key) => {
        setUnlockRec(await store.unlockRecord());
        session.open(key);
      }} />
    );
  }

  const needKey = (r: Route): Route => (session.localKey ? r : { name: "unlock", then: r });
  const go = (r: Route) => setRoute(needKey(r));
  const home = () => setRoute({ name: "home" });

  switch (route.name) {
    case "unlock":
      return <UnlockScreen record={unlockRec} store={store} onBack={home} onUnlocked={(key) => {
        session.open(key); // at the phone's lock delay setting
        setRoute(route.then);
      }} />;
    case "patient":
      return <PatientScreen onBack={home} onPatient={(patientId) => go({ name: "form", patientId })} />;
    case "form":
      if (!session.localKey || !sealing) return null;
      return <FormScreen store={store} localKey={session.localKey} sealing={sealing} patientId={route.patientId} onBack={() => go({ name: "patient" })}
        onCreated={(sequenceId) => go({ name: "capture", sequenceId })} />;
    case "capture":
      if (!session.localKey || !sealing) return null;
      return <CaptureScreen store={store} localKey={session.localKey} sealing={sealing} sequenceId={route.sequenceId} onBack={home} onDone={home} hold={() => session.hold()} base={base} />;
    default:
      return (
        <HomeScreen store={store} sync={sync} localKey={session.localKey} updateReady={props.updateReady && route.name === "home"}
          onNew={() => go({ name: "patient" })} onUnlock={() => setRoute({ name: "unlock", then: { name: "home" } })} onLock={() => session.lock()}
          onOpen={(sequenceId) => go({ name: "capture", sequenceId })} onUpdate={props.onUpdate} session={session} base={base} />
      );
  }
}
