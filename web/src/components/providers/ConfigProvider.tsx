"use client";

import { createContext, type ReactNode, useContext, useMemo } from "react";

import { type PublicConfig } from "@/lib/config";
import { TaskHubReader } from "@/lib/contract/task-hub";

interface ConfigContextValue {
  config: PublicConfig;
  reader: TaskHubReader;
}

const ConfigContext = createContext<ConfigContextValue | null>(null);

/** Hands the request-time network settings (and a contract reader built on them) to the browser. */
export function ConfigProvider({ config, children }: { config: PublicConfig; children: ReactNode }) {
  const value = useMemo(() => ({ config, reader: new TaskHubReader(config.rest, config.contract) }), [config]);
  return <ConfigContext.Provider value={value}>{children}</ConfigContext.Provider>;
}

function useConfigContext(): ConfigContextValue {
  const value = useContext(ConfigContext);
  if (!value) throw new Error("ConfigProvider is missing above this component");
  return value;
}

export const useConfig = (): PublicConfig => useConfigContext().config;
export const useReader = (): TaskHubReader => useConfigContext().reader;
