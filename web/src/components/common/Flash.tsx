"use client";

import * as m from "motion/react-m";
import { type ReactNode } from "react";

import { useChangeCount } from "@/hooks/useChangeCount";

/** Highlights its content briefly each time `value` changes; nothing animates on first render. */
export function Flash({ value, children }: { value: string | number | boolean; children: ReactNode }) {
  const changes = useChangeCount(value);
  if (changes === 0) return <span>{children}</span>;
  return (
    <m.span
      key={changes}
      className="flash"
      data-flash={changes}
      initial={{ backgroundColor: "rgba(255, 214, 10, 0.6)" }}
      animate={{ backgroundColor: "rgba(255, 214, 10, 0)" }}
      transition={{ duration: 1.6 }}
    >
      {children}
    </m.span>
  );
}
