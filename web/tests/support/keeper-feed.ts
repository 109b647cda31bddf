// The keeper's live feed for the browser tests: keepers/feed.py's own LiveFeed (the code the
// keeper runs), started in a Python child on the tests' feed port with the app's origin allowed;
// the test publishes events through its stdin, one JSON object per line: {"event": "...", ...fields},
// made into keepers/events.py's typed events (so a field the keeper no longer sends fails here).
import { type ChildProcess, spawn } from "node:child_process";

import { KEEPER_FEED_PORT, pythonPath, REPO_DIR, WEB_URL } from "./settings";

const PUBLISHER = `
import json, sys
from keepers.events import EVENT_TYPES
from keepers.feed import LiveFeed
feed = LiveFeed(port=int(sys.argv[1]), origins=(sys.argv[2],))
print(feed.start(), flush=True)
for line in sys.stdin:
    fields = json.loads(line)
    feed.publish(EVENT_TYPES[fields.pop("event")](**fields))
    print("published", flush=True)
feed.stop()
`;

export class KeeperFeed {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<KeeperFeed> {
    const child = spawn(pythonPath(), ["-c", PUBLISHER, String(KEEPER_FEED_PORT), WEB_URL], {
      cwd: REPO_DIR,
      env: { ...process.env, PYTHONPATH: REPO_DIR },
      stdio: ["pipe", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`keeper feed exited with ${code}`)));
      child.stdout.once("data", () => resolve());
    });
    return new KeeperFeed(child);
  }

  /** Publishes one event (the feed adds seq and time) and waits until it is out. */
  async publish(event: string, fields: Record<string, unknown>): Promise<void> {
    const published = new Promise<void>((resolve) => this.child.stdout!.once("data", () => resolve()));
    this.child.stdin!.write(`${JSON.stringify({ event, ...fields })}\n`);
    await published;
  }

  /** Ends the publisher (closing stdin stops the feed); killed by its pid if it lingers. */
  async stop(): Promise<void> {
    this.child.stdin!.end();
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    const timer = setTimeout(() => this.child.pid && process.kill(this.child.pid, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
