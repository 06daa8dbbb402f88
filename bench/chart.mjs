// An SVG chart of p99 latency against the offered rate, one line per server (fixed rates and step test).
const COLORS = { floor: '#888888', tenantgate: '#1f77b4', 'tenantgate+quota': '#2ca02c', 'opa-envoy': '#d62728' };

export function renderChart(results) {
  const W = 760, H = 420, L = 70, R = 160, T = 30, B = 50;
  const series = results.map((r) => ({ name: r.server, points: [...r.rates, ...r.step].map((x) => [x.rate, x.p99]).sort((a, b) => a[0] - b[0]) }));
  const maxX = Math.max(1000, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const maxY = Math.min(20, Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])))) * 1.1;
  const x = (v) => L + ((W - L - R) * v) / maxX;
  const y = (v) => H - B - ((H - T - B) * Math.min(v, maxY)) / maxY;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  parts.push(`<text x="${L}" y="18" font-size="14">p99 latency (ms) against offered rate (rps)</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (maxY * i) / 5;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${L - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`);
    const xv = (maxX * i) / 5;
    parts.push(`<text x="${x(xv)}" y="${H - B + 18}" text-anchor="middle">${Math.round(xv)}</text>`);
  }
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(10)}" y2="${y(10)}" stroke="#d62728" stroke-dasharray="4 4"/><text x="${W - R + 4}" y="${y(10) + 4}" fill="#d62728">10 ms</text>`);
  series.forEach((s, i) => {
    const c = COLORS[s.name] ?? '#9467bd';
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of s.points) parts.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${c}"/>`);
    parts.push(`<rect x="${W - R + 10}" y="${T + 20 * i}" width="12" height="12" fill="${c}"/><text x="${W - R + 28}" y="${T + 20 * i + 10}">${s.name}</text>`);
  });
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">offered rate (requests per second)</text>`, '</svg>');
  return parts.join('\n') + '\n';
}
