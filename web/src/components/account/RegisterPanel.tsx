"use client";

import { useState } from "react";

import { useAccount } from "@/components/providers/WalletProvider";
import { TxButton } from "@/components/tx/TxButton";
import { taskHubCalls } from "@/lib/contract/task-hub";

/**
 * Registers the connected address on task_hub with a role (organization or trainer), keeping any
 * role it already has: `register` replaces the profile's roles with the ones it is sent.
 */
export function RegisterPanel({ as }: { as: "organization" | "trainer" }) {
  const account = useAccount();
  const [name, setName] = useState(account?.profile?.name ?? "");
  if (!account) return null;
  const roles = {
    organization: as === "organization" || (account.profile?.is_organization ?? false),
    trainer: as === "trainer" || (account.profile?.is_trainer ?? false),
  };
  return (
    <div data-testid={`register-${as}`}>
      <label htmlFor={`register-name-${as}`}>Public name</label>
      <input
        id={`register-name-${as}`}
        value={name}
        placeholder={as === "organization" ? "e.g. Acme Health" : "e.g. alice"}
        onChange={(event) => setName(event.target.value)}
      />
      <div style={{ marginTop: "0.5rem" }}>
        <TxButton
          disabled={!name.trim()}
          intent={() => ({
            title: `Register as ${as === "organization" ? "an organization" : "a trainer"}`,
            effects: [
              `Records “${name.trim()}” as the public name of ${account.address} on the contract.`,
              `Roles after this: ${[roles.organization && "organization", roles.trainer && "trainer"].filter(Boolean).join(" and ")}.`,
              "Costs only the network fee.",
            ],
            call: taskHubCalls.register(name.trim(), roles),
          })}
        >
          Register as {as}
        </TxButton>
      </div>
    </div>
  );
}
