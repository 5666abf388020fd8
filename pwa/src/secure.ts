// What the app needs from the browser before any other code runs: a secure context (HTTPS, or
// localhost on the desktop try-out), WebCrypto and service workers. Over plain HTTP by host name a
// browser gives none of them; the app then explains how to open its HTTPS address instead of
// failing later with a raw script error (and before enrolment could use up a code).

export type Missing = "secure_context" | "webcrypto" | "service_worker";

export interface BrowserFacts {
  isSecureContext?: boolean;
  crypto?: { subtle?: unknown };
  navigator?: { serviceWorker?: unknown };
}

export function missingCapabilities(w: BrowserFacts): Missing[] {
  const missing: Missing[] = [];
  if (w.isSecureContext !== true) missing.push("secure_context");
  if (!w.crypto?.subtle) missing.push("webcrypto");
  if (!w.navigator?.serviceWorker) missing.push("service_worker");
  return missing;
}

/**
 * The HTTPS form of this address (same host name), or null when it is already HTTPS or has no
 * host name. The port is dropped: the plain-HTTP port is not the ward's HTTPS port, which only the
 * ward (its plain-HTTP page, IT) can give.
 */
export function httpsAddress(loc: { protocol: string; hostname: string }): string | null {
  if (loc.protocol === "https:" || !loc.hostname) return null;
  const host = loc.hostname.includes(":") && !loc.hostname.startsWith("[") ? `[${loc.hostname}]` : loc.hostname;
  return `https://${host}/`;
}
