// Sends HL7 v2 messages over MLLP as a hospital's interface engine does, and returns the ACK codes.
import { connect } from "node:net";

export async function sendAdt(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(message, "utf8"), Buffer.from([0x1c, 0x0d])])));
    let got = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf(0x1c);
      if (end < 0) return;
      socket.end();
      const msa = got.subarray(1, end).toString("utf8").split("\r").find((s) => s.startsWith("MSA|"));
      resolve(msa?.split("|")[1] ?? "");
    });
    socket.on("error", reject);
    socket.setTimeout(10_000, () => { socket.destroy(); reject(new Error("no ACK within 10 s")); });
  });
}

/** An ADT A01 (admit) for a patient in a department (PV1-10 hospital service). */
export function admit(id: string, family: string, given: string, birth: string, sex: string, department: string, control: string): string {
  const pv1 = ["PV1", "1", "I", "", "", "", "", "", "", "", department].join("|");
  return [`MSH|^~\\&|HIS|HOSP|CLINPHOTO|HOSP|20261204080000||ADT^A01^ADT_A01|${control}|P|2.5`,
    "EVN|A01|20261204080000", `PID|1||${id}^^^HOSP^PI||${family}^${given}||${birth}|${sex}`, pv1].join("\r");
}
