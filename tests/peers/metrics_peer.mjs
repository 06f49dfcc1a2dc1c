#!/usr/bin/env node
// Test-only peer: prints what Node bullmq 6.x's Queue#getMetrics reads for a queue.
//
// Usage: echo '{"redis": "redis://127.0.0.1:PORT/0", "prefix": "bull", "queue": "q",
//               "start": 0, "end": -1}' | node tests/peers/metrics_peer.mjs
// Output (one JSON line, exit 0): {"completed": <getMetrics('completed', start, end)>,
//                                  "failed": <getMetrics('failed', start, end)>}
// On failure: {"error": "..."} and exit 1.

import { Queue } from 'bullmq';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function connection(url) {
  const u = new URL(url);
  const opts = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
  };
  if (u.username) opts.username = decodeURIComponent(u.username);
  if (u.password) opts.password = decodeURIComponent(u.password);
  return opts;
}

let queue;
let out;
let code = 0;
try {
  const input = JSON.parse(await readStdin());
  if (!input.queue) throw new Error('queue is required');
  queue = new Queue(input.queue, { connection: connection(input.redis), prefix: input.prefix || 'bull' });
  queue.on('error', () => {});
  const start = input.start ?? 0;
  const end = input.end ?? -1;
  out = {
    completed: await queue.getMetrics('completed', start, end),
    failed: await queue.getMetrics('failed', start, end),
  };
} catch (err) {
  code = 1;
  out = { error: String(err && err.message ? err.message : err) };
}
try {
  if (queue) await queue.close();
} catch {
  // ignore close errors
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(code);
