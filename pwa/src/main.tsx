// Entry point. The first thing it does is check that the browser gives what the app needs (secure
// context, WebCrypto, service workers); only then is the app itself loaded.
import { render } from "preact";
import { lang } from "./i18n/index.ts";
import { missingCapabilities } from "./secure.ts";
import "./styles.css";
import { InsecureScreen } from "./ui/insecure/InsecureScreen.tsx";

document.documentElement.lang = lang();

const missing = missingCapabilities(window);
if (missing.length > 0) render(<InsecureScreen missing={missing} />, document.getElementById("app")!);
else void import("./boot.tsx");
