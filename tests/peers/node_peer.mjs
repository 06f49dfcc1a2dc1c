#!/usr/bin/env node
// Test-only peer: drives Node bullmq 6.x against a Redis server so queuecore's
// interop tests can check both directions of the shared BullMQ data format.
//
// Usage: node tests/peers/node_peer.mjs < scenario.json
//
// Input (one JSON object on stdin):
//   {"redis": "redis://127.0.0.1:PORT/0", "prefix": "bull", "queue": "name",
//    "listen": false, "actions": [ {"op": ...}, ... ]}
// Output (one JSON object on stdout, exit 0):
//   {"results": [one entry per action], "events": [...]}   ("events" only with listen)
//   With "telemetry": true, bullmq-otel traces every Queue, Worker and FlowProducer and
//   the output has "spans" (otel.mjs: in-memory exporter, W3C trace-context propagator).
// On failure: {"error": "...", "results": [...done so far]} and exit 1.
//
// See tests/peers/README.md for the list of ops.

import {
  Queue, Worker, QueueEvents, UnrecoverableError, Job, FlowProducer, WaitingChildrenError, Relay,
} from 'bullmq';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

function connectionFor(url) {
  // bullmq accepts ioredis options; we hand it a parsed URL so that every
  // bullmq-owned connection (queue, worker, blocking, events) is separate.
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

function jobToJSON(job, state) {
  if (!job) return null;
  return {
    id: job.id ?? null,
    name: job.name ?? null,
    data: job.data ?? null,
    opts: job.opts ?? null,
    progress: job.progress ?? null,
    returnvalue: job.returnvalue ?? null,
    failedReason: job.failedReason ?? null,
    stacktrace: job.stacktrace ?? null,
    attemptsMade: job.attemptsMade ?? null,
    attemptsStarted: job.attemptsStarted ?? null,
    stalledCounter: job.stalledCounter ?? null,
    deferredFailure: job.deferredFailure ?? null,
    timestamp: job.timestamp ?? null,
    processedOn: job.processedOn ?? null,
    finishedOn: job.finishedOn ?? null,
    delay: job.delay ?? null,
    priority: job.priority ?? null,
    processedBy: job.processedBy ?? null,
    parentKey: job.parentKey ?? null,
    parent: job.parent ?? null,
    deduplicationId: job.deduplicationId ?? null,
    repeatJobKey: job.repeatJobKey ?? null,
    state: state ?? null,
  };
}

// Connection options of the scenario, for a processor that adds jobs (spawnChildren).
let scenarioOpts = null;

// A parent that adds its children at run time, waits for them in waiting-children
// (moveToWaitingChildren + WaitingChildrenError), and returns their values when rerun.
async function spawnChildren(job, token, spec) {
  const values = await job.getChildrenValues();
  if (Object.keys(values).length) return values;
  const childQueue = new Queue(spec.queue ?? job.queueName, scenarioOpts);
  try {
    for (const c of spec.children ?? []) {
      await childQueue.add(c.name ?? 'child', c.data ?? {}, {
        parent: { id: job.id, queue: job.queueQualifiedName },
      });
    }
  } finally {
    await childQueue.close();
  }
  if (await job.moveToWaitingChildren(token)) throw new WaitingChildrenError();
  return job.getChildrenValues(); // the children were done before the move
}

// Manual processing: a Worker without a processor takes jobs with getNextJob(token) and
// finishes each as the scenario says (outcomes[i] for the i-th job).
async function runManual(queueName, baseOpts, a) {
  const token = a.token ?? 'node-token';
  const worker = new Worker(queueName, null, { ...baseOpts, ...(a.workerOpts || {}) });
  worker.on('error', () => {});
  const out = [];
  try {
    for (const outcome of a.outcomes ?? [{ complete: null }]) {
      const job = await worker.getNextJob(token);
      if (!job) {
        out.push(null);
        continue;
      }
      const entry = { id: job.id, name: job.name, data: job.data };
      if (outcome.wrongToken) {
        try {
          await job.moveToCompleted('never', 'not-the-token', false);
          entry.wrongToken = 'accepted';
        } catch (err) {
          entry.wrongToken = String(err && err.message ? err.message : err);
        }
      }
      if (typeof outcome.extendMs === 'number') {
        entry.extended = await job.extendLock(token, outcome.extendMs);
      }
      if (outcome.waitChildren) {
        entry.movedToWaitingChildren = await job.moveToWaitingChildren(token);
      } else if (Object.prototype.hasOwnProperty.call(outcome, 'complete')) {
        await job.moveToCompleted(outcome.complete, token, false);
      } else if (typeof outcome.fail === 'string') {
        await job.moveToFailed(new Error(outcome.fail), token, false);
      }
      out.push(entry);
    }
  } finally {
    await worker.close();
  }
  return out;
}

// The pattern of BullMQ's guide "Cancelling jobs on other workers": a worker whose processor
// observes its AbortSignal, and a Relay subscription to jobs.<queue>.cancel that calls
// worker.cancelJob. Runs until `count` jobs failed (or timeoutMs).
async function runRelayCancel(queueName, baseOpts, a) {
  const count = a.count ?? 1;
  const failed = [];
  const messages = [];
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const worker = new Worker(queueName, async (job, token, signal) => {
    await new Promise((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    throw new UnrecoverableError(`cancelled: ${signal.reason}`);
  }, { ...baseOpts, concurrency: count });
  worker.on('error', () => {});
  worker.on('failed', (job, err) => {
    failed.push({ id: job ? job.id : null, failedReason: err ? err.message : null });
    if (failed.length >= count) resolveDone();
  });
  const relay = new Relay({ connection: baseOpts.connection, prefix: baseOpts.prefix });
  relay.on('error', () => {});
  await relay.subscribe(`jobs.${a.topicQueue ?? queueName}.cancel`, (message) => {
    messages.push(message.data);
    worker.cancelJob(message.data.jobId, message.data.reason);
  });
  await Promise.race([done, sleep(a.timeoutMs ?? 20000)]);
  await worker.close();
  await relay.close();
  return { failed, messages, timedOut: failed.length < count };
}

// Processor used by the "work" op; behaviour comes from the job's data.
async function processor(job, token) {
  const d = job.data && typeof job.data === 'object' ? job.data : {};
  if (d.spawnChildren) return spawnChildren(job, token, d.spawnChildren);
  if (typeof d.sleepMs === 'number' && d.sleepMs > 0) await sleep(d.sleepMs);
  if (d.progress !== undefined) await job.updateProgress(d.progress);
  if (typeof d.log === 'string') await job.log(d.log);
  const failing = typeof d.failAttempts !== 'number' || job.attemptsMade < d.failAttempts;
  if (typeof d.fail === 'string' && failing) {
    if (d.unrecoverable) throw new UnrecoverableError(d.fail);
    throw new Error(d.fail);
  }
  if (d.returnChildren) return job.getChildrenValues();
  if (Object.prototype.hasOwnProperty.call(d, 'return')) return d.return;
  return { echo: job.data };
}

function flowNode(n) {
  const out = { name: n.name ?? 'job', queueName: n.queueName, data: n.data ?? {}, opts: n.opts ?? {} };
  if (n.children && n.children.length) out.children = n.children.map(flowNode);
  return out;
}

function flowIds(tree) {
  const out = { id: tree.job.id };
  if (tree.children && tree.children.length) out.children = tree.children.map(flowIds);
  return out;
}

class EventCollector {
  constructor(name, opts) {
    this.events = [];
    this.cursor = 0; // index of the first event not yet handed out by an "events" op
    this.qe = new QueueEvents(name, opts);
    const orig = this.qe.emit.bind(this.qe);
    const self = this;
    this.qe.emit = function (eventName, ...args) {
      self.record(eventName, args);
      return orig(eventName, ...args);
    };
  }

  record(eventName, args) {
    if (typeof eventName !== 'string' || args.length === 0) return;
    const streamId = args[args.length - 1];
    if (typeof streamId !== 'string' || !/^\d+-\d+$/.test(streamId)) return;
    if (eventName === 'drained') {
      this.events.push({ event: 'drained', streamId });
      return;
    }
    const payload = args[0];
    if (!payload || typeof payload !== 'object') return;
    // bullmq re-emits each job event as "<event>:<jobId>"; keep only the plain one.
    if (payload.jobId !== undefined && eventName.endsWith(`:${payload.jobId}`)) return;
    this.events.push({ event: eventName, ...payload, streamId });
  }

  async ready() {
    await this.qe.waitUntilReady();
    // The XREAD loop starts after the connection is ready; give it a moment so
    // events written right after this point are not missed (it reads from '$').
    await sleep(150);
  }

  async take(count, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length - this.cursor < count && Date.now() < deadline) {
      await sleep(20);
    }
    const out = this.events.slice(this.cursor);
    this.cursor = this.events.length;
    return out;
  }

  async close() {
    await this.qe.close();
  }
}

async function runWork(queueName, baseOpts, a) {
  const count = a.count ?? 1;
  const timeoutMs = a.timeoutMs ?? 10000;
  const completed = [];
  const failed = [];
  const worker = new Worker(queueName, processor, {
    ...baseOpts,
    concurrency: a.concurrency ?? 1,
    ...(a.workerOpts || {}),
    autorun: false,
  });
  let finished = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const bump = () => {
    finished += 1;
    if (finished >= count) resolveDone();
  };
  worker.on('completed', (job, result) => {
    completed.push({
      id: job.id,
      name: job.name,
      data: job.data,
      returnvalue: result === undefined ? null : result,
      attemptsMade: job.attemptsMade,
      processedOn: job.processedOn ?? null,
      finishedOn: job.finishedOn ?? null,
    });
    bump();
  });
  worker.on('failed', (job, err) => {
    failed.push({
      id: job ? job.id : null,
      failedReason: err ? err.message : job ? job.failedReason : null,
      attemptsMade: job ? job.attemptsMade : null,
    });
    bump();
  });
  worker.on('error', () => {}); // keep going; errors surface as missing results
  const running = worker.run().catch(() => {});
  if (count > 0) {
    await Promise.race([done, sleep(timeoutMs)]);
  } else {
    await sleep(timeoutMs);
  }
  await worker.close(a.force === true);
  await running;
  return { completed, failed, timedOut: finished < count };
}

async function runAction(ctx, a) {
  const { queue } = ctx;
  switch (a.op) {
    case 'add': {
      const job = await queue.add(a.name ?? 'job', a.data ?? {}, a.opts ?? {});
      return { id: job.id };
    }
    case 'addBulk': {
      const jobs = await queue.addBulk(
        (a.jobs || []).map((j) => ({ name: j.name ?? 'job', data: j.data ?? {}, opts: j.opts ?? {} })),
      );
      return { ids: jobs.map((j) => j.id) };
    }
    case 'addFlow': {
      const fp = new FlowProducer(ctx.baseOpts);
      try {
        return flowIds(await fp.add(flowNode(a.flow)));
      } finally {
        await fp.close();
      }
    }
    case 'getChildrenValues': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      return job.getChildrenValues();
    }
    case 'getDeduplicationJobId':
      return (await queue.getDeduplicationJobId(String(a.id))) ?? null;
    case 'upsertJobScheduler': {
      const job = await queue.upsertJobScheduler(String(a.id), a.repeat ?? {}, a.template ?? {});
      return job ? { id: job.id } : null;
    }
    case 'getJobSchedulers':
      return queue.getJobSchedulers(a.start ?? 0, a.end ?? -1, a.asc ?? false);
    case 'removeJobScheduler':
      return queue.removeJobScheduler(String(a.id));
    case 'getJobScheduler':
      return (await queue.getJobScheduler(String(a.id))) ?? null;
    case 'work':
      return runWork(ctx.queueName, ctx.baseOpts, a);
    case 'manual':
      return runManual(ctx.queueName, ctx.baseOpts, a);
    case 'relayCancel':
      return runRelayCancel(ctx.queueName, ctx.baseOpts, a);
    case 'getJob': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) return null;
      const state = await job.getState();
      return jobToJSON(job, state);
    }
    case 'getState': {
      const job = await Job.fromId(queue, String(a.id));
      return job ? await job.getState() : null;
    }
    case 'getJobCounts':
      return queue.getJobCounts(...(a.types || []));
    case 'getWorkers': {
      const ws = await queue.getWorkers();
      // bullmq reports every worker's "name" as the queue name; the real client
      // name ("<prefix>:<base64 queue>" or "...:w:<workerName>") is in rawname.
      return ws.map((w) => w.rawname ?? w.name);
    }
    case 'pause':
      await queue.pause();
      return true;
    case 'resume':
      await queue.resume();
      return true;
    case 'isPaused':
      return queue.isPaused();
    case 'getJobs': {
      const jobs = await queue.getJobs(a.states ?? [], a.start ?? 0, a.end ?? -1, a.asc ?? false);
      return jobs.filter(Boolean).map((j) => j.id);
    }
    case 'retry': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      await job.retry(a.state ?? 'failed');
      return true;
    }
    case 'retryJobs':
      await queue.retryJobs({ count: a.count, state: a.state, timestamp: a.timestamp });
      return true;
    case 'promote': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      await job.promote();
      return true;
    }
    case 'promoteJobs':
      await queue.promoteJobs({ count: a.count });
      return true;
    case 'remove': {
      const n = await queue.remove(String(a.id), { removeChildren: a.removeChildren ?? true });
      return n;
    }
    case 'getLogs': {
      const r = await queue.getJobLogs(String(a.id), a.start ?? 0, a.end ?? -1, a.asc ?? true);
      return { logs: r.logs, count: r.count };
    }
    case 'log': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      return job.log(a.text ?? '');
    }
    case 'updateProgress': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      await job.updateProgress(a.progress);
      return true;
    }
    case 'updateData': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      await job.updateData(a.data);
      return true;
    }
    case 'changePriority': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      await job.changePriority({ priority: a.priority, lifo: a.lifo ?? false });
      return true;
    }
    case 'changeDelay': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      await job.changeDelay(a.delay);
      return true;
    }
    case 'getCountsPerPriority':
      return queue.getCountsPerPriority(a.priorities ?? []);
    case 'getJobCountByTypes':
      return queue.getJobCountByTypes(...(a.types || []));
    case 'getDependenciesCount': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      return job.getDependenciesCount(a.types ?? {});
    }
    case 'removeChildDependency': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      return job.removeChildDependency();
    }
    case 'removeUnprocessedChildren': {
      const job = await Job.fromId(queue, String(a.id));
      if (!job) throw new Error(`job ${a.id} not found`);
      await job.removeUnprocessedChildren();
      return true;
    }
    case 'getFlow': {
      const fp = new FlowProducer(ctx.baseOpts);
      try {
        // Only the options given: an undefined one would replace getFlow's default.
        const opts = { id: String(a.id), queueName: a.queueName ?? ctx.queueName };
        if (a.depth !== undefined) opts.depth = a.depth;
        if (a.maxChildren !== undefined) opts.maxChildren = a.maxChildren;
        const tree = await fp.getFlow(opts);
        const walk = (n) => (n ? { id: n.job.id, name: n.job.name, queueName: n.job.queueName,
          children: (n.children || []).filter(Boolean).map(walk) } : null);
        return walk(tree);
      } finally {
        await fp.close();
      }
    }
    case 'drain':
      await queue.drain(a.delayed ?? false);
      return true;
    case 'clean':
      return queue.clean(a.grace ?? 0, a.limit ?? 1000, a.state ?? 'completed');
    case 'obliterate':
      await queue.obliterate({ force: a.force ?? false, count: a.count });
      return true;
    case 'sleep':
      await sleep(a.ms ?? 0);
      return true;
    case 'events': {
      const count = a.count ?? 1;
      const timeoutMs = a.timeoutMs ?? 5000;
      if (ctx.collector) return ctx.collector.take(count, timeoutMs);
      // Not listening since the start: listen from now on (or, with "fromId", replay the
      // stream from that id, e.g. "0-0"), for events made by another process (e.g. a
      // queuecore worker running meanwhile or before).
      const qeOpts = a.fromId ? { ...ctx.baseOpts, lastEventId: String(a.fromId) } : ctx.baseOpts;
      const c = new EventCollector(ctx.queueName, qeOpts);
      try {
        await c.ready();
        return await c.take(count, timeoutMs);
      } finally {
        await c.close();
      }
    }
    default:
      throw new Error(`unknown op: ${a.op}`);
  }
}

async function main() {
  let scenario;
  const results = [];
  const ctx = {};
  let exitCode = 0;
  let out;
  try {
    scenario = JSON.parse(await readStdin());
    ctx.queueName = scenario.queue;
    if (!ctx.queueName) throw new Error('scenario.queue is required');
    ctx.baseOpts = {
      connection: connectionFor(scenario.redis || 'redis://127.0.0.1:6379/0'),
      prefix: scenario.prefix || 'bull',
    };
    if (scenario.telemetry) {
      // bullmq-otel on every Queue, Worker and FlowProducer; loaded only when asked for.
      const { setupTelemetry } = await import('./otel.mjs');
      ctx.otel = setupTelemetry('node-peer');
      ctx.baseOpts.telemetry = ctx.otel.telemetry;
    }
    scenarioOpts = ctx.baseOpts;
    ctx.queue = new Queue(ctx.queueName, ctx.baseOpts);
    ctx.queue.on('error', () => {});
    await ctx.queue.waitUntilReady();
    if (scenario.listen) {
      ctx.collector = new EventCollector(ctx.queueName, ctx.baseOpts);
      await ctx.collector.ready();
    }
    for (const a of scenario.actions || []) {
      if (a.catch) {
        // The action is expected to be refused: its message is the result.
        try {
          await runAction(ctx, a);
          results.push({ thrown: null });
        } catch (err) {
          results.push({ thrown: String(err && err.message ? err.message : err) });
        }
      } else {
        results.push(await runAction(ctx, a));
      }
    }
    out = { results };
    if (ctx.collector) {
      await sleep(scenario.settleMs ?? 200);
      out.events = ctx.collector.events;
    }
  } catch (err) {
    exitCode = 1;
    out = { error: String(err && err.message ? err.message : err), results };
  }
  try {
    if (ctx.collector) await ctx.collector.close();
    if (ctx.queue) await ctx.queue.close();
  } catch {
    // ignore close errors
  }
  if (ctx.otel && out) {
    out.spans = ctx.otel.spans(); // before shutdown(), which empties the exporter
    await ctx.otel.shutdown();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(exitCode);
}

main();
