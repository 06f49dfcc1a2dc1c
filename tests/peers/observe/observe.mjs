// Observe what Node bullmq does to Redis, step by step.
// usage: node observe.mjs PORT OUTDIR [scenario ...]
// Needs a PRIVATE redis-server (see redis_private.sh); it is FLUSHALLed between scenarios.
// For each scenario writes OUTDIR/<scenario>.txt: per step, the commands seen by
// MONITOR (EVALSHA labelled with the script name, msgpack ARGV decoded), and a
// dump of every key after the step.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Queue, Worker, QueueEvents, UnrecoverableError, Job } from 'bullmq';
import { Monitor, dumper, sleep } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [portArg, outDir, ...only] = process.argv.slice(2);
const port = Number(portArg);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
fs.mkdirSync(outDir, { recursive: true });

function waitFor(emitter, event, n = 1, timeoutMs = 15000) {
  return new Promise((resolve) => {
    let seen = 0;
    const t = setTimeout(() => resolve(false), timeoutMs);
    const h = () => {
      seen += 1;
      if (seen >= n) {
        clearTimeout(t);
        emitter.off(event, h);
        resolve(true);
      }
    };
    emitter.on(event, h);
  });
}

const scenarios = {
  async standard({ step, q }) {
    await step('add standard job', () => q.add('std', { a: 1 }));
    await step('add second job, no data', () => q.add('std2'));
    await step('addBulk two jobs', () => q.addBulk([{ name: 'b1', data: { i: 1 } }, { name: 'b2', data: { i: 2 }, opts: { lifo: true } }]));
  },

  async customId({ step, q }) {
    await step('add jobId=my-id', () => q.add('c', { v: 1 }, { jobId: 'my-id' }));
    await step('add jobId=my-id again (different data)', () => q.add('c', { v: 2 }, { jobId: 'my-id' }));
  },

  async delayed({ step, q }) {
    await step('add delay 5000', () => q.add('d', {}, { delay: 5000 }));
    await step('addBulk 3 jobs delay 5000 (same ms)', () =>
      q.addBulk([1, 2, 3].map((i) => ({ name: 'd', data: { i }, opts: { delay: 5000 } }))));
    await step('add delay 2000 (earlier)', () => q.add('d', {}, { delay: 2000 }));
  },

  async prioritized({ step, q }) {
    await step('add priority 5', () => q.add('p', { i: 1 }, { priority: 5 }));
    await step('add priority 5, 5, 1, 0, 2097151', async () => {
      await q.add('p', { i: 2 }, { priority: 5 });
      await q.add('p', { i: 3 }, { priority: 5 });
      await q.add('p', { i: 4 }, { priority: 1 });
      await q.add('p', { i: 5 }, { priority: 0 });
      await q.add('p', { i: 6 }, { priority: 2097151 });
    });
    await step('add priority 3 with delay 1000', () => q.add('p', { i: 7 }, { priority: 3, delay: 1000 }));
    await step('sleep 1200 then getJobCounts (promotes?)', async () => {
      await sleep(1200);
      return q.getJobCounts();
    });
  },

  async optsEncoding({ step, q }) {
    const cases = [
      { removeOnComplete: true, removeOnFail: 10 },
      { removeOnComplete: { age: 60, count: 5 }, removeOnFail: { count: 2, age: 3600, limit: 7 } },
      { attempts: 3, backoff: { type: 'exponential', delay: 100 } },
      { attempts: 2, backoff: 250 },
      { attempts: 2, backoff: { type: 'fixed', delay: 50, jitter: 0.5 } },
      { priority: 7 },
      { delay: 3000 },
      { jobId: 'custom-1' },
      { lifo: true },
      { keepLogs: 3 },
      { stackTraceLimit: 2 },
      { sizeLimit: 1000 },
      { timestamp: 1700000000000 },
      { deduplication: { id: 'dd1', ttl: 5000 } },
      { failParentOnFailure: true },
      { removeOnComplete: false, attempts: 1, delay: 0, priority: 0, lifo: false },
      { telemetry: { metadata: 'x' } },
    ];
    for (const opts of cases) {
      await step(`add opts ${JSON.stringify(opts)}`, async () => {
        const job = await q.add('o', {}, opts);
        return job.id;
      });
    }
  },

  async complete({ step, q, d }) {
    await step('add job', () => q.add('c', { x: 1 }));
    const w = new Worker(q.name, async (job) => {
      await sleep(600);
      return { result: job.data.x + 1 };
    }, { connection, name: 'w1' });
    await step('worker started, job active (mid-processing)', async () => {
      await waitFor(w, 'active');
      await sleep(200);
      return { clients: await d.clients() };
    });
    await step('job completed', () => waitFor(w, 'completed'));
    await step('idle worker 1.5s (blocking pattern)', () => sleep(1500));
    await step('worker close', () => w.close());
  },

  async unnamedWorker({ step, q, d }) {
    const w = new Worker(q.name, async () => 'ok', { connection });
    await step('unnamed worker idle; client list', async () => {
      await sleep(500);
      return { clients: await d.clients(), workers: await q.getWorkers() };
    });
    await step('close', () => w.close());
  },

  async failBackoff({ step, q }) {
    await step('add attempts 3 exponential 100', () =>
      q.add('f', { n: 1 }, { attempts: 3, backoff: { type: 'exponential', delay: 100 } }));
    const w = new Worker(q.name, async () => {
      throw new Error('boom');
    }, { connection, name: 'wf', autorun: false });
    const firstFail = waitFor(w, 'failed', 1);
    w.run();
    await step('after first failure (delayed for retry)', async () => {
      await firstFail;
    });
    await step('after all 3 attempts', async () => {
      await waitFor(w, 'failed', 2, 5000);
      await sleep(200);
    });
    await step('close', () => w.close());
  },

  async retryNoBackoff({ step, q }) {
    await step('add attempts 2 (no backoff); add removeOnComplete true; add removeOnComplete {age:3600,count:2}', async () => {
      await q.add('nb', { fail: true }, { attempts: 2 });
      await q.add('rc', {}, { removeOnComplete: true });
      await q.add('rc2', {}, { removeOnComplete: { age: 3600, count: 2 } });
    });
    const w = new Worker(q.name, async (job) => {
      if (job.data.fail) throw new Error('again');
      return 'ok';
    }, { connection, name: 'wn' });
    await step('after processing', async () => {
      await Promise.all([waitFor(w, 'failed', 2), waitFor(w, 'completed', 2)]);
      await sleep(100);
    });
    await step('close', () => w.close());
  },

  async unrecoverable({ step, q }) {
    await step('add attempts 3', () => q.add('u', {}, { attempts: 3 }));
    const w = new Worker(q.name, async () => {
      throw new UnrecoverableError('fatal');
    }, { connection, name: 'wu' });
    await step('after failure', async () => {
      await waitFor(w, 'failed');
      await sleep(100);
    });
    await step('close', () => w.close());
  },

  async noRetryFail({ step, q }) {
    await step('add (attempts default) stackTraceLimit 1', () => q.add('nf', {}, { stackTraceLimit: 1, removeOnFail: { count: 1 } }));
    const w = new Worker(q.name, async () => {
      throw new Error('once');
    }, { connection });
    await step('after failure', async () => {
      await waitFor(w, 'failed');
      await sleep(100);
    });
    await step('close', () => w.close());
  },

  async progressLog({ step, q }) {
    await step('add keepLogs 2', () => q.add('pl', {}, { keepLogs: 2 }));
    let release;
    const gate = new Promise((r) => (release = r));
    const w = new Worker(q.name, async (job) => {
      await job.updateProgress(42);
      await job.updateProgress({ stage: 'x', pct: 50 });
      await job.log('line one');
      await job.log('line two');
      await job.log('line three');
      await gate;
      return null;
    }, { connection });
    await step('worker: progress 42, progress {stage,pct}, 3 logs', async () => {
      await waitFor(w, 'progress', 2);
      await sleep(300);
    });
    await step('finish', async () => {
      release();
      await waitFor(w, 'completed');
      await sleep(100);
    });
    await step('external updateProgress/log on finished job', async () => {
      const job = await Job.fromId(q, '1');
      await job.updateProgress(99);
      return job.log('after');
    });
    await step('getJobLogs', () => q.getJobLogs('1'));
    await step('close', () => w.close());
  },

  async pauseResume({ step, q }) {
    await step('add 2 jobs + 1 prioritized + 1 delayed', async () => {
      await q.add('a', {});
      await q.add('a', {});
      await q.add('a', {}, { priority: 2 });
      await q.add('a', {}, { delay: 60000 });
    });
    await step('pause', () => q.pause());
    await step('add while paused (plain + prioritized)', async () => {
      await q.add('a', { paused: true });
      await q.add('a', { paused: true }, { priority: 1 });
    });
    await step('getJobCounts / isPaused while paused', async () => ({ counts: await q.getJobCounts(), paused: await q.isPaused() }));
    const w = new Worker(q.name, async () => 'done', { connection, drainDelay: 1 });
    await step('worker running while paused 1.5s', () => sleep(1500));
    await step('resume', () => q.resume());
    await step('after worker drains', async () => {
      await waitFor(w, 'completed', 5, 5000);
      await sleep(200);
    });
    await step('close', () => w.close());
  },

  async drain({ step, q }) {
    await step('add wait, prioritized, delayed, and one custom-id', async () => {
      await q.add('a', {});
      await q.add('a', {}, { priority: 3 });
      await q.add('a', {}, { delay: 60000 });
      await q.add('a', {}, { jobId: 'keep-me' });
    });
    await step('drain(false)', () => q.drain(false));
    await step('drain(true)', () => q.drain(true));
  },

  async clean({ step, q }) {
    await step('add 3 ok jobs, 1 failing', async () => {
      await q.add('ok', {});
      await q.add('ok', {});
      await q.add('ok', {});
      await q.add('bad', { fail: true });
    });
    const w = new Worker(q.name, async (job) => {
      if (job.data.fail) throw new Error('nope');
      return 1;
    }, { connection });
    await step('process all', async () => {
      await Promise.all([waitFor(w, 'completed', 3), waitFor(w, 'failed', 1)]);
      await w.close();
    });
    await step('clean(0, 2, completed)', () => q.clean(0, 2, 'completed'));
    await step('clean(0, 0, failed)', () => q.clean(0, 0, 'failed'));
    await step('clean(60000, 10, completed) (nothing old enough)', () => q.clean(60000, 10, 'completed'));
  },

  async obliterate({ step, q }) {
    await step('add jobs in several states', async () => {
      await q.add('a', {});
      await q.add('a', {}, { delay: 60000 });
      await q.add('a', {}, { priority: 1 });
      const j = await q.add('a', {});
      await j.log('x');
    });
    await step('obliterate', () => q.obliterate());
  },

  async promote({ step, q }) {
    await step('add delayed 60000 and delayed+priority', async () => {
      await q.add('d', {}, { delay: 60000 });
      await q.add('d', {}, { delay: 60000, priority: 4 });
    });
    await step('promote job 1', async () => (await Job.fromId(q, '1')).promote());
    await step('promote job 2', async () => (await Job.fromId(q, '2')).promote());
    await step('promoteJobs on empty delayed', () => q.promoteJobs());
  },

  async retry({ step, q }) {
    await step('add one failing, one ok', async () => {
      await q.add('r', { fail: true });
      await q.add('r', { fail: false });
    });
    const w = new Worker(q.name, async (job) => {
      if (job.data.fail) throw new Error('first');
      return 'ok';
    }, { connection });
    await step('process both', async () => {
      await Promise.all([waitFor(w, 'completed', 1), waitFor(w, 'failed', 1)]);
      await w.close();
    });
    await step('job.retry() failed job 1', async () => (await Job.fromId(q, '1')).retry('failed'));
    await step('job.retry(completed) job 2', async () => (await Job.fromId(q, '2')).retry('completed'));
    await step('retry job 2 again while waiting (error?)', async () => {
      try {
        await (await Job.fromId(q, '2')).retry('completed');
        return 'no error';
      } catch (e) {
        return `error: ${e.message}`;
      }
    });
  },

  async remove({ step, q }) {
    await step('add 3 jobs', async () => {
      await q.add('x', {});
      const j = await q.add('x', {});
      await j.log('l');
      await q.add('x', {}, { delay: 60000 });
    });
    await step('remove 2 (waiting, with logs)', () => q.remove('2'));
    await step('remove 3 (delayed)', () => q.remove('3'));
    await step('remove missing 99', () => q.remove('99'));
    let release;
    const gate = new Promise((r) => (release = r));
    const w = new Worker(q.name, async () => { await gate; }, { connection });
    await step('remove active locked job 1 (error?)', async () => {
      await waitFor(w, 'active');
      try {
        return await q.remove('1');
      } catch (e) {
        return `error: ${e.message}`;
      }
    });
    await step('finish', async () => {
      release();
      await waitFor(w, 'completed');
      await w.close();
    });
  },

  async delayedWorker({ step, q }) {
    await step('add delay 2500', () => q.add('dw', {}, { delay: 2500 }));
    const w = new Worker(q.name, async () => 'ok', { connection, name: 'wd' });
    await step('worker idle with a delayed job (1s)', () => sleep(1000));
    await step('job processed after due', async () => {
      await waitFor(w, 'completed', 1, 5000);
      await sleep(100);
    });
    await step('add delayed 8000 while worker blocked', async () => {
      await q.add('dw2', {}, { delay: 8000 });
      await sleep(300);
    });
    await step('close', () => w.close());
  },

  async concurrency({ step, q }) {
    await step('add 3 jobs', () => q.addBulk([1, 2, 3].map((i) => ({ name: 'cc', data: { i } }))));
    const w = new Worker(q.name, async () => { await sleep(1200); return 'ok'; }, { connection, concurrency: 2, lockDuration: 2000, name: 'wc' });
    await step('running 2 at once, lock renew after ~1s', async () => {
      await waitFor(w, 'active', 2);
      await sleep(1100);
    });
    await step('all done', async () => {
      await waitFor(w, 'completed', 3, 8000);
      await w.close();
    });
  },

  async stall({ step, q }) {
    await step('add job', () => q.add('s', {}));
    const spawnWorker = (name, sleepMs) => {
      const child = spawn(process.execPath, [path.join(here, 'stall_worker.mjs'), String(port), q.name, name, String(sleepMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.lines = [];
      child.stdout.on('data', (d) => child.lines.push(...d.toString().trim().split('\n')));
      return child;
    };
    const waitLine = async (child, prefix, ms = 10000) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (child.lines.some((l) => l.startsWith(prefix))) return true;
        await sleep(50);
      }
      return false;
    };
    const a = spawnWorker('wa', 60000);
    await step('worker wa took the job (lock held)', async () => {
      await waitLine(a, 'active');
      await sleep(100);
    });
    await step('SIGKILL wa', async () => {
      a.kill('SIGKILL');
      await sleep(100);
    });
    const b = spawnWorker('wb', 60000);
    await step('worker wb starts: stall check recovers, wb picks it again', async () => {
      await waitLine(b, 'active', 10000);
      await sleep(100);
      return b.lines;
    });
    await step('SIGKILL wb', async () => {
      b.kill('SIGKILL');
      await sleep(100);
    });
    const c = spawnWorker('wc', 10);
    await step('worker wc starts: second stall (maxStalledCount 1 exceeded)', async () => {
      await Promise.race([waitLine(c, 'failed', 8000), waitLine(c, 'completed', 8000)]);
      await sleep(300);
      return c.lines;
    });
    await step('stop wc', async () => {
      c.kill('SIGTERM');
      await new Promise((r) => c.on('exit', r));
    });
  },
};

async function run(name, fn) {
  const d = await dumper(port);
  await d.redis.flushall();
  const monitor = new Monitor(port, new Set([d.addr]));
  await monitor.start();
  const qname = name;
  const q = new Queue(qname, { connection });
  await q.waitUntilReady();
  const qe = new QueueEvents(qname, { connection });
  await qe.waitUntilReady();
  const lines = [`# scenario ${name} (queue ${qname})`];
  let prev = {};
  const step = async (title, fn2) => {
    let result;
    try {
      result = await fn2();
    } catch (e) {
      result = `THREW: ${e.message}`;
    }
    await sleep(150);
    const cmds = monitor.take({ skipBlocking: true });
    const dump = await d.dump();
    lines.push(`\n## step: ${title}`);
    lines.push(`result: ${JSON.stringify(result === undefined ? null : result instanceof Job ? { jobId: result.id } : Array.isArray(result) && result[0] instanceof Job ? result.map((j) => j.id) : result)}`);
    lines.push('### commands');
    for (const c of cmds) lines.push(JSON.stringify(c));
    lines.push('### keys changed (full value)');
    for (const [k, v] of Object.entries(dump)) {
      if (JSON.stringify(prev[k]) === JSON.stringify(v)) continue;
      if (v.type === 'stream' && prev[k] && prev[k].type === 'stream') {
        const seen = new Set(prev[k].value.map((e) => e.id));
        lines.push(`${k} stream NEW ${JSON.stringify(v.value.filter((e) => !seen.has(e.id)))}`);
      } else lines.push(`${k} ${v.type} ${JSON.stringify(v.value)}`);
    }
    for (const k of Object.keys(prev)) if (!(k in dump)) lines.push(`${k} DELETED`);
    prev = dump;
  };
  monitor.take();
  await scenarios[name]({ step, q, d });
  await qe.close();
  await q.close();
  monitor.stop();
  await d.close();
  fs.writeFileSync(path.join(outDir, `${name}.txt`), lines.join('\n') + '\n');
  console.log(`wrote ${name}`);
}

for (const name of only.length ? only : Object.keys(scenarios)) {
  await run(name, scenarios[name]);
}
process.exit(0);
