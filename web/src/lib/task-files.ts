// What the organization may upload for a task, checked by the pinning route before anything
// reaches IPFS. Shared with the form, which shows the same limits.

export type TaskFileKind = "client" | "model";

export const MAX_FILE_BYTES: Record<TaskFileKind, number> = {
  client: 2 * 1024 * 1024,
  model: 64 * 1024 * 1024,
};

export const FILE_LABELS: Record<TaskFileKind, string> = {
  client: "client.py",
  model: "initial model (.safetensors)",
};

export const isTaskFileKind = (value: unknown): value is TaskFileKind => value === "client" || value === "model";

/** Why these bytes are not an acceptable `kind` file, or null when they are. */
export function fileProblem(kind: TaskFileKind, bytes: Uint8Array): string | null {
  if (bytes.byteLength === 0) return "the file is empty";
  if (bytes.byteLength > MAX_FILE_BYTES[kind]) {
    return `the file is ${bytes.byteLength} bytes; the limit for ${FILE_LABELS[kind]} is ${MAX_FILE_BYTES[kind]} bytes`;
  }
  if (kind === "client") {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return "client.py must be UTF-8 text";
    }
    return null;
  }
  return safetensorsProblem(bytes);
}

/** A safetensors file: an 8-byte little-endian header length, a JSON object header, then data. */
function safetensorsProblem(bytes: Uint8Array): string | null {
  if (bytes.byteLength < 10) return "not a safetensors file (too short)";
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength < 2 || headerLength > bytes.byteLength - 8) return "not a safetensors file (bad header length)";
  try {
    const header: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    if (typeof header !== "object" || header === null || Array.isArray(header)) throw new Error("not an object");
  } catch {
    return "not a safetensors file (its header is not a JSON object)";
  }
  return null;
}
