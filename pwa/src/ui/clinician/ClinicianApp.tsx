// The clinicians' workspace (loaded on demand by the people's console, so the capture app's shell stays
// small): find a patient, their timeline and photos, comparison, consent, export; activity figures.
// Photos are for surgeons (and anyone inside an emergency access); nurses never reach these screens.
import type { Person } from "../people/api.ts";
import type { Chrome } from "../people/Console.tsx";
import { CompareScreen } from "./CompareScreen.tsx";
import { parseClinHash } from "./logic.ts";
import { SearchScreen } from "./SearchScreen.tsx";
import { StatsScreen } from "./StatsScreen.tsx";
import { TimelineScreen } from "./TimelineScreen.tsx";

export function ClinicianApp(props: Chrome & { hash: string; person: Person }) {
  const route = parseClinHash(props.hash) ?? { name: "search" as const };
  switch (route.name) {
    case "stats":
      return <StatsScreen {...props} />;
    case "timeline":
      return <TimelineScreen {...props} patientId={route.patientId} canOriginal={props.person.roles.includes("surgeon")} />;
    case "compare":
      return <CompareScreen {...props} patientId={route.patientId} />;
    default:
      return <SearchScreen {...props} />;
  }
}
