#!/usr/bin/env node
// Test-only peer: reports what Node bullmq 6.x sees of jobs that belong to flows, in any
// queues (node_peer.mjs works on one queue per run and has no dependency getters).
//
// Usage: node tests/peers/flow_inspect.mjs < scenario.json
//
// Input (one JSON object on stdin, the protocol of node_peer.mjs):
//   {"redis": "redis://127.0.0.1:PORT/0", "prefix": "bull",
//    "actions": [{"op": "inspect", "queue": "name", "id": "job id"}, ...]}
// Output (one JSON object on stdout, exit 0): {"results": [one entry per action]}
// On failure: {"error": "...", "results": [...done so far]} and exit 1.
//
// "inspect" gives null for a missing job, else {id, name, state, isWaitingChildren,
// parentKey, processedOn, finishedOn, returnvalue, dependencies (job.getDependencies()),
// counts (job.getDependenciesCount()), childrenValues (job.getChildrenValues())}.

import { Queue, Job } from 'bullmq';

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

function connectionFor(url) {
  const u = new URL(url);
  const db = u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  const opts = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    maxRetriesPerRequest: null,
  };
  if (u.password) opts.password = decodeURIComponent(u.password);
  if (u.username) opts.username = decodeURIComponent(u.username);
  return opts;
}

async function inspect(queue, id) {
  const job = await Job.fromId(queue, String(id));
  if (!job) return null;
  return {
    id: job.id ?? null,
    name: job.name ?? null,
    state: await job.getState(),
    isWaitingChildren: await job.isWaitingChildren(),
    parentKey: job.parentKey ?? null,
    processedOn: job.processedOn ?? null,
    finishedOn: job.finishedOn ?? null,
    returnvalue: job.returnvalue ?? null,
    dependencies: await job.getDependencies(),
    counts: await job.getDependenciesCount(),
    childrenValues: await job.getChildrenValues(),
  };
}

async function main() {
  const results = [];
  const queues = new Map();
  let exitCode = 0;
  let out;
  try {
    const scenario = JSON.parse(await readStdin());
    const baseOpts = {
      connection: connectionFor(scenario.redis || 'redis://127.0.0.1:6379/0'),
      prefix: scenario.prefix || 'bull',
    };
    const queueOf = async (name) => {
      if (!queues.has(name)) {
        const q = new Queue(name, baseOpts);
        q.on('error', () => {});
        await q.waitUntilReady();
        queues.set(name, q);
      }
      return queues.get(name);
    };
    for (const a of scenario.actions || []) {
      if (a.op !== 'inspect') throw new Error(`unknown op: ${a.op}`);
      if (!a.queue) throw new Error('inspect needs a queue');
      results.push(await inspect(await queueOf(a.queue), a.id));
    }
    out = { results };
  } catch (err) {
    exitCode = 1;
    out = { error: String(err && err.message ? err.message : err), results };
  }
  for (const q of queues.values()) {
    try {
      await q.close();
    } catch {
      // ignore close errors
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(exitCode);
}

main();
