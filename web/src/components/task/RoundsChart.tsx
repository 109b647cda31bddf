"use client";

import { AnimatePresence } from "motion/react";
import * as m from "motion/react-m";

import { type RoundResponse, type TaskMetric } from "@/lib/contract/types";
import { decimalToNumber, metricDirection } from "@/lib/format";

// A narrow drawing (scaled to the panel's width) keeps its 13-px labels readable on a phone.
const WIDTH = 480;
const HEIGHT = 220;
const PAD = { left: 42, right: 46, top: 12, bottom: 28 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;

interface Point {
  round: number;
  x: number;
  metricY: number;
  lossY: number;
  value: number;
  loss: number;
}

/** The top of an axis from 0 with room above the largest value; never 0, as it is divided by. */
const axisTop = (values: number[]): number => Math.max(1e-9, ...values) * 1.1;

/**
 * The task's metric (left axis, 0 to its bound, or to the largest value when it has none) and the
 * loss (right axis, 0–max) per round, as recorded on chain. New rounds draw their point in; the
 * ones already there stay still.
 */
export function RoundsChart({ rounds, totalRounds, metric }: { rounds: RoundResponse[]; totalRounds: number; metric: TaskMetric }) {
  // The contract refuses a bound of 0, so a bounded axis can be divided by too.
  const bound = metric.at_most == null ? null : decimalToNumber(metric.at_most);
  const metricTop = bound ?? axisTop(rounds.map((round) => decimalToNumber(round.metrics.value)));
  const maxLoss = axisTop(rounds.map((round) => decimalToNumber(round.metrics.loss)));
  const xOf = (round: number) => PAD.left + (totalRounds <= 1 ? PLOT_W / 2 : ((round - 1) / (totalRounds - 1)) * PLOT_W);
  const points: Point[] = rounds.map((round) => {
    const value = decimalToNumber(round.metrics.value);
    const loss = decimalToNumber(round.metrics.loss);
    return {
      round: round.round,
      x: xOf(round.round),
      metricY: PAD.top + (1 - value / metricTop) * PLOT_H,
      lossY: PAD.top + (1 - loss / maxLoss) * PLOT_H,
      value,
      loss,
    };
  });
  const line = (y: (point: Point) => number) => points.map((point, index) => `${index ? "L" : "M"}${point.x},${y(point)}`).join(" ");
  const ticks = Array.from({ length: totalRounds }, (_, index) => index + 1).filter(
    (round) => totalRounds <= 12 || round === 1 || round === totalRounds || round % Math.ceil(totalRounds / 8) === 0,
  );

  return (
    <figure style={{ margin: 0 }}>
      <svg
        className="chart"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${metric.name} and loss for ${rounds.length} of ${totalRounds} rounds`}
        data-testid="rounds-chart"
        data-points={points.length}
      >
        {[0, 0.25, 0.5, 0.75, 1].map((fraction) => {
          const y = PAD.top + (1 - fraction) * PLOT_H;
          return (
            <g key={fraction}>
              <line className="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y} y2={y} />
              {(bound !== null || rounds.length > 0) && (
                <text className="label" x={PAD.left - 6} y={y + 4} textAnchor="end">
                  {(fraction * metricTop).toPrecision(2)}
                </text>
              )}
              {rounds.length > 0 && (
                <text className="label" x={WIDTH - PAD.right + 6} y={y + 4}>
                  {(fraction * maxLoss).toPrecision(2)}
                </text>
              )}
            </g>
          );
        })}
        <line className="axis" x1={PAD.left} x2={WIDTH - PAD.right} y1={PAD.top + PLOT_H} y2={PAD.top + PLOT_H} />
        {ticks.map((round) => (
          <text key={round} className="label" x={xOf(round)} y={HEIGHT - 8} textAnchor="middle">
            {round}
          </text>
        ))}
        {points.length > 1 && (
          <>
            <path className="metric" d={line((point) => point.metricY)} />
            <path className="loss" d={line((point) => point.lossY)} />
          </>
        )}
        <AnimatePresence initial={false}>
          {points.map((point) => (
            <m.g
              key={point.round}
              initial={{ opacity: 0, scale: 0 }}
              animate={{ opacity: 1, scale: 1 }}
              transition={{ type: "spring", stiffness: 300, damping: 15 }}
              style={{ originX: `${point.x}px`, originY: `${point.metricY}px` }}
            >
              <circle cx={point.x} cy={point.metricY} r={4} fill="var(--accent)">
                <title>{`round ${point.round}: ${metric.name} ${point.value.toFixed(4)}`}</title>
              </circle>
              <circle cx={point.x} cy={point.lossY} r={3.5} fill="#e0671b">
                <title>{`round ${point.round}: loss ${point.loss.toFixed(4)}`}</title>
              </circle>
            </m.g>
          ))}
        </AnimatePresence>
        {points.length === 0 && (
          <text className="label" x={WIDTH / 2} y={HEIGHT / 2} textAnchor="middle">
            No round attested yet
          </text>
        )}
      </svg>
      <figcaption className="legend" data-testid="rounds-chart-legend">
        <span>
          <span className="swatch" style={{ background: "var(--accent)" }} />
          {metric.name} (left, {metricDirection(metric)})
        </span>
        <span>
          <span className="swatch" style={{ background: "#e0671b" }} />
          loss (right)
        </span>
        <span>x: round</span>
      </figcaption>
    </figure>
  );
}
