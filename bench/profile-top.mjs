// Prints the functions with the most self time in a V8 .cpuprofile (node --cpu-prof), grouped by file.
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
p.samples.forEach((id, i) => {
  const n = byId.get(id);
  const k = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
  self.set(k, (self.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFile = new Map();
for (const [k, v] of self) {
  const f = k.includes('wasm') ? 'wasm (policy)' : k.split(' ').slice(-1)[0].split(':')[0] || '(native)';
  byFile.set(f, (byFile.get(f) ?? 0) + v);
}
console.log('by file:');
[...byFile].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 15)).forEach(([k, v]) => console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`));
console.log('by function:');
[...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 15)).forEach(([k, v]) => console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`));
