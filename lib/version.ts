/** The release version, from deno.json (the one place it is written). */
import denoJson from "../deno.json" with { type: "json" };

/** e.g. "0.1.0" */
export const VERSION: string = denoJson.version;
