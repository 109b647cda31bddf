"""fedchain benchmarks: each writes JSON, a markdown table and (where a curve says more) a plot."""

# Every benchmark's localnet (they run one after another) shifts its ports by this much: all of them
# then stay below the kernel's ephemeral range (32768 and up), where any outgoing connection of the
# moment could be holding the port a validator is about to listen on.
BENCH_PORT_OFFSET = 5000
