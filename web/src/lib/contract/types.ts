// The one import point for task_hub's wire types. Everything in the app imports from here, so
// switching from the hand-written v2 types to the schema-generated ones is this one line.
export * from "./task-hub.handwritten";
