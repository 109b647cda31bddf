// Programs the end-to-end test runs beside the app (the Python keeper, trainers' client.py): each
// in a process group of its own, its output in a log file, stopped with its whole family (the
// keeper's SuperLink and ServerApp, a trainer's node and sandboxed worker run in sessions of their
// own, so they are found through /proc, as localnet/processes.py finds them).
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";

/** Every live descendant of `root` (children, grandchildren, …), read from /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const next = children.get(frontier.pop()!) ?? [];
    found.push(...next);
    frontier.push(...next);
  }
  return found;
}

const signal = (pid: number, name: NodeJS.Signals): void => {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
};

export class Background {
  private exitCode: number | null = null;
  private readonly exit: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly log: string,
    private readonly child: ChildProcess,
  ) {
    this.exit = new Promise((resolve) =>
      child.once("exit", (code, killedBy) => {
        this.exitCode = code ?? (killedBy ? -1 : null);
        resolve(this.exitCode);
      }),
    );
  }

  static start(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; log: string }): Background {
    const out = openSync(options.log, "a");
    try {
      const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", out, out], detached: true });
      return new Background(name, options.log, child);
    } finally {
      closeSync(out);
    }
  }

  get running(): boolean {
    return this.exitCode === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits up to `ms` for the program to end by itself; its exit code, or null if it is still running. */
  async waitForExit(ms: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
    const code = await Promise.race([this.exit, timeout]);
    clearTimeout(timer);
    return code;
  }

  /** SIGTERM to its group, then SIGKILL to whatever of its family is left after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const family = descendants(pid);
    if (this.running) {
      signal(-pid, "SIGTERM");
      await this.waitForExit(graceMs);
    }
    signal(-pid, "SIGKILL");
    for (const member of family) signal(member, "SIGKILL");
  }

  /** The end of its log, for failure messages. */
  tail(lines = 40): string {
    if (!existsSync(this.log)) return "";
    return `--- ${this.name} (${this.log}) ---\n${readFileSync(this.log, "utf8").split("\n").slice(-lines).join("\n")}`;
  }
}
