// The app proper, loaded by main.tsx once the browser is known to give a secure context.
import { render } from "preact";
import { useState } from "preact/hooks";
import { registerSW } from "virtual:pwa-register";
import { App } from "./ui/App.tsx";
import { isPeopleHash, PeopleApp } from "./ui/people/PeopleApp.tsx";

let applyUpdate: (() => void) | undefined;
let markUpdate: (() => void) | undefined;
let updateWaiting = false;

// The new version waits: it is offered on the home screen, never forced during a capture.
applyUpdate = registerSW({
  immediate: true,
  onNeedRefresh() {
    updateWaiting = true;
    markUpdate?.();
  },
}) as unknown as () => void;

function Root() {
  const [ready, setReady] = useState(updateWaiting);
  markUpdate = () => setReady(true);
  return <App updateReady={ready} onUpdate={() => applyUpdate?.()} />;
}

// #/signin, #/register/<token>, #/admin, #/station: the people's console, not the capture app
render(isPeopleHash() ? <PeopleApp /> : <Root />, document.getElementById("app")!);
