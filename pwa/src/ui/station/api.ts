// The docking station's calls: the phones and what each holds, and "Sync now". Counts only: the
// server never sends the station a photo or a patient identifier.
import { call, type Device } from "../people/api.ts";

export type StationDevice = Device & {
  status_at: string | null;
  pending_photos: number | null;
  pending_sequences: number | null;
  oldest_pending_at: string | null;
  sync_state: "idle" | "syncing" | "error" | null;
  progress: { done: number; total: number } | null;
  last_error_code: string | null;
  sync_requested_at: string | null;
};

export const stationDevices = () => call<{ devices: StationDevice[] }>("GET", "/api/v1/station/devices");
export const requestSync = (deviceId: string) =>
  call<{ device_id: string; sync_requested_at: string }>("POST", `/api/v1/station/devices/${deviceId}/sync`);
