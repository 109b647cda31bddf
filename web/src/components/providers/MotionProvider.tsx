"use client";

import { domAnimation, LazyMotion } from "motion/react";
import { type ReactNode } from "react";

/**
 * Components animate with motion's light `m` elements; this provides the animation features they
 * use (enter/exit, animate, transitions), so the full `motion` component never reaches the bundle.
 * `strict` makes an accidental `motion.div` an error instead of a silent bundle-size regression.
 */
export function MotionProvider({ children }: { children: ReactNode }) {
  return (
    <LazyMotion features={domAnimation} strict>
      {children}
    </LazyMotion>
  );
}
