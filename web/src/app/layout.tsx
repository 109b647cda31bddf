import "./globals.css";

import { type Metadata, type Viewport } from "next";
import { type ReactNode } from "react";

import { SiteHeader } from "@/components/layout/SiteHeader";
import { ClockProvider } from "@/components/providers/ClockProvider";
import { ConfigProvider } from "@/components/providers/ConfigProvider";
import { MotionProvider } from "@/components/providers/MotionProvider";
import { WalletProvider } from "@/components/providers/WalletProvider";
import { TxProvider } from "@/components/tx/TxProvider";
import { ConfigError, readPublicConfig, renderTime } from "@/lib/server/runtime-config";

export const metadata: Metadata = {
  title: { default: "fedchain", template: "%s · fedchain" },
  description: "Federated learning tasks with escrowed rewards on a CosmWasm chain",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default async function RootLayout({ children }: { children: ReactNode }) {
  let config;
  try {
    config = await readPublicConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return (
      <html lang="en">
        <body>
          <main>
            <h1>fedchain is not configured</h1>
            <p>
              Set {error.missing.join(", ")} (and the other FEDCHAIN_* variables of web/README.md) in the environment of
              <code> next start</code>.
            </p>
          </main>
        </body>
      </html>
    );
  }
  return (
    <html lang="en">
      <body>
        <ConfigProvider config={config}>
          <MotionProvider>
          <ClockProvider renderedAt={renderTime()}>
            <WalletProvider>
              <TxProvider>
                <SiteHeader />
                <main>{children}</main>
              </TxProvider>
            </WalletProvider>
          </ClockProvider>
          </MotionProvider>
        </ConfigProvider>
      </body>
    </html>
  );
}
