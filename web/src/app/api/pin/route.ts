import { NextResponse } from "next/server";

import { kuboApiUrl } from "@/lib/server/runtime-config";
import { PinError, pinToKubo } from "@/lib/server/kubo";
import { fileProblem, isTaskFileKind } from "@/lib/task-files";

export const dynamic = "force-dynamic";

/**
 * POST multipart `file` + `kind` (client | model): checks the file, pins it to the configured
 * Kubo node and answers `{ cid, size, sha256 }`. The Kubo RPC URL never leaves the server.
 */
export async function POST(request: Request) {
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    return NextResponse.json({ error: "expected a multipart form with `file` and `kind`" }, { status: 400 });
  }
  const file = form.get("file");
  const kind = form.get("kind");
  if (!(file instanceof File) || !isTaskFileKind(kind)) {
    return NextResponse.json({ error: "expected a multipart form with `file` and `kind` (client or model)" }, { status: 400 });
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const problem = fileProblem(kind, bytes);
  if (problem) return NextResponse.json({ error: problem }, { status: 422 });
  try {
    return NextResponse.json(await pinToKubo(kuboApiUrl(), file.name || kind, bytes));
  } catch (error) {
    if (error instanceof PinError) return NextResponse.json({ error: error.message }, { status: error.status });
    throw error;
  }
}
