// The JSON documents of schemas/, bundled at build time.
import sequenceSchema from "../../../../schemas/sequence.schema.json";
import viewProtocols from "../../../../schemas/view-protocols.json";
import views from "../../../../schemas/views.json";
import { fieldsFromSchema, type ProtocolFile, type ViewInfo } from "./form.ts";

export const SEQUENCE_SCHEMA = sequenceSchema as Parameters<typeof fieldsFromSchema>[0];
export const PROTOCOLS = viewProtocols as unknown as ProtocolFile;
export const VIEWS: Map<string, ViewInfo> = new Map((views as { views: ViewInfo[] }).views.map((v) => [v.code, v]));
export const FIELDS = fieldsFromSchema(SEQUENCE_SCHEMA, PROTOCOLS);
