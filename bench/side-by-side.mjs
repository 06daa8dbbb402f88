// Servers measured back to back in rounds, each first in turn (the first run of a round measured slower than the
// others): server CPU per check at saturation, the median per server, and the median of the differences within a
// round (the machine's speed drifts between rounds more than the differences worth measuring).

/** `kinds`: server kind → its fixtures; `saturation(kind, fx, work)` from run.mjs. */
export async function sideBySide({ kinds, work, saturation, rounds }) {
  const runs = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const order = Object.entries(kinds);
  for (let round = 0; round < rounds; round++) {
    for (const [kind, f] of [...order.slice(round % order.length), ...order.slice(0, round % order.length)]) {
      const r = await saturation(kind, f, work);
      const us = ((r.serverCpuPct / 100) * 1e6) / r.rps;
      runs[kind].push({ ...r, cpuUsPerCheck: us });
      console.log(`  ${kind.padEnd(24)} round ${round + 1}: ${r.rps.toFixed(0)} rps, ${us.toFixed(1)} µs CPU per check, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}${r.at1000 ? `; at 1,000 rps p99 ${r.at1000.p99.toFixed(2)} ms` : ''}`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    runs,
    medianCpuUsPerCheck: Object.fromEntries(Object.entries(runs).map(([k, list]) => [k, median(list.map((x) => x.cpuUsPerCheck))])),
    /** The median over the rounds of a's CPU per check minus b's. */
    delta: (a, b) => median(runs[a].map((x, i) => x.cpuUsPerCheck - runs[b][i].cpuUsPerCheck)),
  };
}
