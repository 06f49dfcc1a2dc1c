// Node bullmq 6.x's side of the benchmark, with the bullmq that tests/peers installs.
// Usage: node bench/adapters/node_bench.mjs ROLE CONFIG_JSON   (roles as in common.py)
// Cross-process times are CLOCK_MONOTONIC in ms (process.hrtime), like the Python adapters.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const peers = join(here, '..', '..', 'tests', 'peers');
const requireFromPeers = createRequire(join(peers, 'package.json'));
const { Queue, Worker } = requireFromPeers('bullmq');

const QUEUE = 'bench';
const JOB_NAME = 'noop';

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const cpuSince = (cpu0) => { const d = process.cpuUsage(cpu0); return (d.user + d.system) / 1e6; };
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

function connectionOf(url) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
  };
}

function versionOf(pkg) {
  return JSON.parse(readFileSync(join(peers, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

const roles = {
  async versions() {
    return { library: versionOf('bullmq'), ioredis: versionOf('ioredis'), runtime: `Node ${process.version}` };
  },

  async add_one(cfg) {
    const queue = new Queue(QUEUE, { connection: connectionOf(cfg.url) });
    await queue.add(JOB_NAME, { i: -1 });
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    const limit = start + (cfg.max_seconds ?? 1e9) * 1000;
    let done = 0;
    for (let i = 0; i < cfg.n; i++) {
      await queue.add(JOB_NAME, { i });
      done++;
      if (performance.now() > limit) break;
    }
    const seconds = (performance.now() - start) / 1000;
    await queue.close();
    return { n: done, seconds, cpu_s: cpuSince(cpu0) };
  },

  async add_bulk(cfg) {
    const pad = 'x'.repeat(cfg.pad || 0); // S3 with 1 KB of job data
    const queue = new Queue(QUEUE, { connection: connectionOf(cfg.url) });
    await queue.addBulk([{ name: JOB_NAME, data: { i: -1 } }]);
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    const limit = start + (cfg.max_seconds ?? 1e9) * 1000;
    let done = 0;
    for (let lo = 0; lo < cfg.n; lo += cfg.batch) {
      const jobs = [];
      for (let i = lo; i < Math.min(cfg.n, lo + cfg.batch); i++) {
        jobs.push({ name: JOB_NAME, data: pad ? { i, pad } : { i } });
      }
      await queue.addBulk(jobs);
      done = Math.min(cfg.n, lo + cfg.batch);
      if (performance.now() > limit) break;
    }
    const seconds = (performance.now() - start) / 1000;
    await queue.close();
    return { n: done, seconds, cpu_s: cpuSince(cpu0) };
  },

  async produce(cfg) {
    const queue = new Queue(QUEUE, { connection: connectionOf(cfg.url) });
    await queue.getJobCounts('waiting'); // connect first
    const delays = cfg.delays || [];
    let behind = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < cfg.n; i++) {
      const wait = t0 + (i * 1000) / cfg.rate - performance.now();
      if (wait > 0) await sleep(wait);
      else behind = Math.max(behind, -wait);
      const t = nowMs();
      if (cfg.mode === 'lateness') {
        await queue.add(JOB_NAME, { i, due: t + delays[i] }, { delay: delays[i] });
      } else {
        await queue.add(JOB_NAME, { i, t });
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    await queue.close();
    return { n: cfg.n, seconds, cpu_s: cpuSince(cpu0), behind_ms: behind };
  },

  async work(cfg) {
    const mode = cfg.mode || 'count';
    const samples = [];
    let processed = 0;
    const sleepMs = cfg.sleep_ms || 0; // S3 with a processor that awaits 5 ms
    const worker = new Worker(QUEUE, async (job) => {
      processed++;
      if (sleepMs) await sleep(sleepMs);
      if (mode === 'lateness') samples.push(nowMs() - job.data.due);
    }, { connection: connectionOf(cfg.url), concurrency: cfg.concurrency, autorun: false });
    if (mode === 'latency') worker.on('completed', (job) => samples.push(nowMs() - job.data.t));
    worker.on('error', (err) => process.stderr.write(`worker error: ${err}\n`));
    await worker.waitUntilReady();
    let stopRequested;
    const stopped = new Promise((resolve) => { stopRequested = resolve; });
    process.on('SIGTERM', () => stopRequested());
    emit({ ready: true });
    await new Promise((resolve) => {
      let buf = '';
      process.stdin.on('data', (chunk) => {
        buf += chunk;
        if (buf.includes('\n')) resolve();
      });
    });
    process.stdin.pause();
    const running = worker.run();
    await stopped;
    emit({ processed, samples }); // before close: it may hang
    const tClose = performance.now();
    await worker.close();
    await running;
    return { closed_ms: performance.now() - tClose };
  },
};
roles.fill = roles.add_bulk;

const [role, config] = process.argv.slice(2);
if (!roles[role]) {
  process.stderr.write(`usage: node_bench.mjs {${Object.keys(roles).join(',')}} CONFIG_JSON\n`);
  process.exit(2);
}
try {
  emit(await roles[role](JSON.parse(config || '{}')));
  process.exit(0);
} catch (err) {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}
