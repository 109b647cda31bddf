"use client";

import { explainQueryError } from "@/lib/errors";

/** A page could not be rendered, typically because the chain was unreachable. */
export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="panel" role="alert">
      <h1>This page could not be loaded</h1>
      <p>{explainQueryError(error)}</p>
      <button className="button" onClick={reset}>
        Try again
      </button>
    </div>
  );
}
