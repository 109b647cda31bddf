// Unit-level: the metric the create-task form reads from client.py's SETTINGS literal
// (src/lib/client-settings.ts) is the one the keeper reads from the same bytes
// (client_kit.settings.settings_from_source), so the chain gets the metric the keeper checks.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect, test } from "@playwright/test";

import { declaredMetric } from "@/lib/client-settings";

import { keeperClientMetrics } from "../support/python";
import { exampleClientPy, MSE_SETTINGS } from "../support/scenarios";

/** The example client.py with its metric replaced by this JSON text. */
const withMetric = (json: string): string => exampleClientPy("unit", MSE_SETTINGS).toString().replace(/"metric": \{[^}]*\}/, `"metric": ${json}`);

const CASES: { label: string; source: string; expected: ReturnType<typeof declaredMetric> | "refused" }[] = [
  { label: "accuracy, as the builder renders it", source: exampleClientPy("unit").toString(), expected: { metric: { name: "accuracy", higher_is_better: true, at_most: "1" } } },
  { label: "mse, no bound", source: exampleClientPy("unit", MSE_SETTINGS).toString(), expected: { metric: { name: "mse", higher_is_better: false, at_most: null } } },
  { label: "no metric key (older clients): accuracy", source: exampleClientPy("unit", "no metric key").toString(), expected: { metric: { name: "accuracy", higher_is_better: true, at_most: "1" } } },
  { label: "metric null: accuracy", source: exampleClientPy("unit", null).toString(), expected: { metric: { name: "accuracy", higher_is_better: true, at_most: "1" } } },
  { label: "a bound with decimals", source: withMetric('{"at_most": 2.5, "higher_is_better": true, "name": "r2-score"}'), expected: { metric: { name: "r2-score", higher_is_better: true, at_most: "2.5" } } },
  { label: "a whole bound", source: withMetric('{"at_most": 100.0, "higher_is_better": false, "name": "mape"}'), expected: { metric: { name: "mape", higher_is_better: false, at_most: "100" } } },
  { label: "a bound of a millionth", source: withMetric('{"at_most": 0.000001, "higher_is_better": true, "name": "tiny"}'), expected: { metric: { name: "tiny", higher_is_better: true, at_most: "0.000001" } } },
  { label: "a partial metric takes accuracy's other fields", source: withMetric('{"name": "f1"}'), expected: { metric: { name: "f1", higher_is_better: true, at_most: "1" } } },
  { label: "CRLF line endings", source: exampleClientPy("unit", MSE_SETTINGS).toString().replaceAll("\n", "\r\n"), expected: { metric: { name: "mse", higher_is_better: false, at_most: null } } },
  { label: "no SETTINGS", source: exampleClientPy("unit", "no SETTINGS").toString(), expected: "refused" },
  { label: "SETTINGS bound twice", source: `${exampleClientPy("unit", MSE_SETTINGS).toString()}\nSETTINGS = None\n`, expected: "refused" },
  { label: "SETTINGS that are not JSON", source: withMetric("{'name': 'mse'}"), expected: "refused" },
  { label: "an invalid metric name", source: withMetric('{"at_most": null, "higher_is_better": false, "name": "MSE"}'), expected: "refused" },
  { label: "a bound with 7 decimal places", source: withMetric('{"at_most": 0.1234567, "higher_is_better": true, "name": "acc7"}'), expected: "refused" },
  { label: "an unknown metric field", source: withMetric('{"at_most": null, "higher_is_better": false, "name": "mse", "unit": "m2"}'), expected: "refused" },
];

test("client.py's declared metric: what the form sends is what the keeper reads", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "fedchain-client-settings-"));
  try {
    const files = CASES.map((entry, index) => {
      const file = path.join(dir, `client-${index}.py`);
      writeFileSync(file, entry.source);
      return file;
    });
    const keeper = keeperClientMetrics(files);
    CASES.forEach((entry, index) => {
      const read = declaredMetric(entry.source);
      if (entry.expected === "refused") {
        expect(read, entry.label).toHaveProperty("problem");
        expect(keeper[index], `${entry.label} (keeper)`).toHaveProperty("problem");
      } else {
        expect(read, entry.label).toEqual(entry.expected);
        expect(keeper[index], `${entry.label} (keeper)`).toEqual(entry.expected);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a client.py without a readable SETTINGS literal gets a problem naming it", () => {
  const missing = declaredMetric(exampleClientPy("unit", "no SETTINGS").toString());
  expect(missing).toEqual({ problem: expect.stringContaining("embeds no SETTINGS = ClientSettings.from_json") as unknown });
  expect(declaredMetric("")).toHaveProperty("problem");
  // Not at the top level (indented), not a raw string literal: not the builder's form.
  expect(declaredMetric(`if True:\n    SETTINGS = ClientSettings.from_json(r"""{}""")\n`)).toHaveProperty("problem");
  expect(declaredMetric('SETTINGS = ClientSettings.from_json(\n    r"""\n[1, 2]\n"""\n)\n')).toEqual({ problem: "client.py's SETTINGS are not a JSON object." });
  // A bound the contract refuses (0) or JavaScript would print with an exponent.
  expect(declaredMetric('SETTINGS = ClientSettings.from_json(r"""{"metric": {"name": "m", "higher_is_better": true, "at_most": 0}}""")')).toHaveProperty("problem");
  expect(declaredMetric('SETTINGS = ClientSettings.from_json(r"""{"metric": {"name": "m", "higher_is_better": true, "at_most": 1e-7}}""")')).toHaveProperty("problem");
  expect(declaredMetric('SETTINGS = ClientSettings.from_json(r"""{"metric": {"name": "m", "higher_is_better": true, "at_most": 1e16}}""")')).toHaveProperty("problem");
  // The test suite's form: one line, as tests/test_cli.py writes it.
  expect(declaredMetric('SETTINGS = ClientSettings.from_json(r"""{"metric": {"name": "mae", "higher_is_better": false, "at_most": null}}""")\n')).toEqual({
    metric: { name: "mae", higher_is_better: false, at_most: null },
  });
});
