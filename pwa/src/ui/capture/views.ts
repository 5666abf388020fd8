// Which view the next photo is filed under, and which views a finished sequence lacks. Pure.
import type { ViewProtocol } from "../sequence/form.ts";

/** views.json's code for a photo taken past a complete protocol: never filed under a protocol view. */
export const ADDITIONAL_VIEW = "additional";

/** The protocol's next missing view; once every view is taken, an explicit additional view. */
export function viewToShoot(protocol: ViewProtocol | undefined, views: string[], comp: { next?: string }): string {
  if (!protocol) return views[0]!;
  return comp.next ?? ADDITIONAL_VIEW;
}

/** The protocol's views with no photo, in protocol order. */
export function missingViews(protocol: ViewProtocol | undefined, taken: string[]): string[] {
  const have = new Set(taken);
  return (protocol?.views ?? []).filter((v) => !have.has(v));
}
