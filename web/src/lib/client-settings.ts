// What a task's client.py declares about its rounds, read from its text in the browser, never run:
// the `SETTINGS = ClientSettings.from_json(r"""…""")` literal the builder renders
// (client_kit/settings.py) and the metric in it. The keeper refuses a task whose on-chain metric
// differs from this one, so the create-task form sends exactly what client.py declares.
import { type TaskMetric } from "@/lib/contract/types";

/** What rounds report when client.py's settings name no metric (client_kit.metrics.ACCURACY). */
export const ACCURACY: TaskMetric = { name: "accuracy", higher_is_better: true, at_most: "1" };

/** client.py's declared metric, as CreateTaskMsg.metric takes it, or why it cannot be read. */
export type DeclaredMetric = { metric: TaskMetric } | { problem: string };

/** The settings literal at the top level of client.py: its JSON text is group 1. */
const SETTINGS_LITERAL = /^SETTINGS = ClientSettings\.from_json\(\s*r"""([\s\S]*?)"""\s*\)/m;
/** Every top-level binding of SETTINGS (`SETTINGS = …`, `SETTINGS: T = …`). */
const SETTINGS_BINDING = /^SETTINGS\s*(?::[^=\n]*)?=(?!=)/gm;
/** The contract's rule for a metric name (client_kit.metrics._NAME). */
const METRIC_NAME = /^[a-z0-9_-]{1,32}$/;
/** The largest upper bound a task may name (client_kit.metrics.MAX_BOUND). */
const MAX_BOUND = 1e15;
const METRIC_KEYS = new Set(["name", "higher_is_better", "at_most"]);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * A metric's upper bound as a chain Decimal, like the CLI sends it (`1`, `0.5`): a positive number
 * up to 1e15 with at most 6 decimal places (what a round records), or null for none.
 */
function boundDecimal(value: unknown): { at_most: string | null } | { problem: string } {
  if (value === null) return { at_most: null };
  const problem = { problem: `client.py's metric bound (at_most) must be a positive number up to 1e15 with at most 6 decimal places, or null; got ${JSON.stringify(value)}` };
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_BOUND) return problem;
  // JS prints the shortest round-trip digits, like Python's repr; an exponent here means < 1e-6.
  const text = String(value);
  return text.includes("e") || (text.split(".")[1] ?? "").length > 6 ? problem : { at_most: text };
}

/**
 * The metric client.py's SETTINGS declare, with client_kit's defaults: no `metric` (older clients)
 * is accuracy with at most 1, and a key the metric leaves out takes accuracy's value.
 */
export function declaredMetric(source: string): DeclaredMetric {
  const literal = SETTINGS_LITERAL.exec(source);
  if (!literal) {
    return {
      problem:
        'client.py embeds no SETTINGS = ClientSettings.from_json(r"""…""") literal, so the keeper would refuse the task; render it with `fedchain org build-client`.',
    };
  }
  if ((source.match(SETTINGS_BINDING) ?? []).length > 1) {
    return { problem: "client.py binds SETTINGS more than once, so the keeper would refuse the task: it cannot tell which settings the code runs with." };
  }
  let settings: unknown;
  try {
    settings = JSON.parse(literal[1]!);
  } catch (error) {
    return { problem: `client.py's SETTINGS are not valid JSON (${error instanceof Error ? error.message : String(error)}).` };
  }
  if (!isObject(settings)) return { problem: "client.py's SETTINGS are not a JSON object." };
  const declared = settings.metric;
  if (declared === undefined || declared === null || (isObject(declared) && Object.keys(declared).length === 0)) return { metric: ACCURACY };
  if (!isObject(declared)) return { problem: "client.py's metric is not a JSON object." };
  const unknown = Object.keys(declared).filter((key) => !METRIC_KEYS.has(key));
  if (unknown.length) return { problem: `client.py's metric has unknown fields: ${unknown.join(", ")}.` };
  const name = declared.name ?? ACCURACY.name;
  if (typeof name !== "string" || !METRIC_NAME.test(name)) {
    return { problem: `client.py's metric name must be 1 to 32 lowercase letters, digits, '_' or '-'; got ${JSON.stringify(name)}.` };
  }
  const higherIsBetter = declared.higher_is_better ?? ACCURACY.higher_is_better;
  if (typeof higherIsBetter !== "boolean") return { problem: "client.py's metric must say higher_is_better as true or false." };
  const bound = "at_most" in declared ? boundDecimal(declared.at_most) : { at_most: ACCURACY.at_most ?? null };
  if ("problem" in bound) return bound;
  return { metric: { name, higher_is_better: higherIsBetter, at_most: bound.at_most } };
}
