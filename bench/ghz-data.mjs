// ghz call data as count-delimited binary CheckRequests (-B). ghz parses a binary file once, up front; with a
// JSON array it converts each message on first use, which with thousands of distinct requests makes the
// generator, not the server, the slow side (it showed as a 30-60 ms p99 at 1,000 rps).
import protobuf from 'protobufjs';
import { writeFileSync } from 'node:fs';
import { authServiceDefinition } from '../dist/check/protos.js';

/** Writes requests (CheckRequest objects, protojson-style, `time` as an RFC 3339 string or a Timestamp) to file. */
export function writeGhzBinary(requests, file) {
  const serialize = authServiceDefinition().Check.requestSerialize;
  const w = protobuf.Writer.create();
  for (const r of requests) {
    const time = r.attributes?.request?.time;
    if (typeof time === 'string') {
      const ms = Date.parse(time);
      r.attributes.request.time = { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
    }
    w.bytes(serialize(r));
  }
  writeFileSync(file, w.finish());
  return file;
}

/**
 * The environment for the load generators (ghz and vegeta are Go programs). ghz keeps every result until the end, so
 * its heap grows all run long and Go collects it every couple of seconds; on the generator's one core each
 * collection delayed the calls in flight by up to 10 ms (bursts of 25-40 slow calls exactly at ghz's GCs, seen
 * with GODEBUG=gctrace=1), more often the larger the servers' answers. Measured latency is the server's only
 * with the generator's GC off during a run; the memory limit brings it back if a run ever grows that large.
 */
export const GENERATOR_ENV = { GOGC: 'off', GOMEMLIMIT: '4GiB' };
