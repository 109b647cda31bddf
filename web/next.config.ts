import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Everything network-specific comes from FEDCHAIN_* variables read at request time
  // (src/lib/server/runtime-config.ts), so one build serves any network.
  reactStrictMode: true,
  poweredByHeader: false,
  // The test stack and `fedchain web` run `next start` from this folder; keep the build output here.
  distDir: ".next",
};

export default nextConfig;
