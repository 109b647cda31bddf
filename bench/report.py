"""Writing benchmark results: JSON with the machine it ran on, a markdown table, an optional plot."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """What the numbers were measured on, stored beside them."""
    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def write_results(
    directory: Path,
    name: str,
    rows: list[dict[str, Any]],
    summary: dict[str, Any],
    columns: list[str],
    plot: dict[str, Any] | None = None,
    plot_rows: list[dict[str, Any]] | None = None,
) -> None:
    """`plot_rows` (default: `rows`) are the points plotted when the table's shape is not a curve's."""
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), "summary": summary, "rows": rows}
    (directory / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    lines = [
        f"# {name}",
        "",
        f"Measured on {payload['machine']['cpu']} ({payload['machine']['cores']} cores), "
        f"{payload['machine']['date']}, commit {payload['machine']['commit']}.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    lines += ["", "Summary:", "", "```json", json.dumps(summary, indent=2, default=str), "```", ""]
    if plot:
        _plot(directory / f"{name}.png", plot_rows or rows, plot)
        lines += [f"![{plot['title']}]({name}.png)", ""]
    (directory / f"{name}.md").write_text("\n".join(lines))


def _plot(path: Path, rows: list[dict[str, Any]], spec: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8.5 if spec.get("stacked") else 7, 4.5))
    if spec.get("stacked"):  # more segments than the default cycle's ten colours
        axis.set_prop_cycle(color=plt.get_cmap("tab20").colors)
    bottoms: dict[Any, float] = {}
    for series in spec["series_values"]:
        points = sorted((r[spec["x"]], r[spec["y"]]) for r in rows if r[spec["series"]] == series)
        if not points:
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        if spec.get("stacked"):  # a bar per x, each series a segment: where a total goes
            below = [bottoms.get(x, 0.0) for x in xs]
            axis.bar(xs, ys, bottom=below, label=series)
            bottoms.update({x: b + y for x, b, y in zip(xs, below, ys, strict=True)})
        else:
            axis.plot(xs, ys, marker="o", label=series)
    if spec.get("logx"):
        axis.set_xscale("log")
    if spec.get("logy"):
        axis.set_yscale("log")
    axis.set_xlabel(spec.get("xlabel", spec["x"]))
    axis.set_ylabel(spec.get("ylabel", spec["y"]))
    axis.set_title(spec["title"])
    axis.grid(True, alpha=0.3)
    if spec.get("stacked"):
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    else:
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
