// The one import point for task_hub's wire types, generated from the contract's JSON schema by
// scripts/contract-types.mjs (`npm run types:contract`; `npm run lint` checks it is current).
export * from "./task-hub.generated";
