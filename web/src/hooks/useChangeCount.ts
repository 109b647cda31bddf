"use client";

import { useState } from "react";

/**
 * How many times `value` changed since the component mounted (0 on the first render), so an
 * animation can be keyed on real changes only and never plays for what was already there.
 */
export function useChangeCount(value: string | number | boolean): number {
  const [previous, setPrevious] = useState(value);
  const [changes, setChanges] = useState(0);
  if (value !== previous) {
    // Adjusting state while rendering (React's pattern for "state derived from a prop change").
    setPrevious(value);
    setChanges(changes + 1);
  }
  return changes;
}
