"""fedchain benchmarks: each writes JSON, a markdown table and (where a curve says more) a plot."""
