// Observation (test-only): what bullmq 6.7 with bullmq-otel 2.0.1 writes for telemetry, and
// which spans it makes. Run against a private server (redis_private.sh); FLUSHALLs it.
//
//   node observe/otel_probe.mjs PORT
//
// Prints one JSON object: the job hashes (raw HGETALL) of an added job, a job retried after
// a failure, a flow's parent and child, and every span with kind, parent and attributes.
import IORedis from 'ioredis';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { setupTelemetry } from '../otel.mjs';

const port = Number(process.argv[2]);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const redis = new IORedis(connection);
await redis.flushall();

const { telemetry, spans, shutdown } = setupTelemetry('probe');
const queue = new Queue('probe', { connection, telemetry });
const plain = await queue.add('plain', { a: 1 });
const failing = await queue.add('failing', { fail: true }, { attempts: 2 });
const omitted = await queue.add('omitted', {}, { telemetry: { omitContext: true } });
const bulk = await queue.addBulk([{ name: 'b1', data: {} }, { name: 'b2', data: {} }]);
const flows = new FlowProducer({ connection, telemetry });
const flow = await flows.add({
  name: 'parent', queueName: 'probe', data: {},
  children: [{ name: 'child', queueName: 'probe', data: {}, opts: {} }],
});

const hashes = {};
const grab = async (label, id) => { hashes[label] = await redis.hgetall(`bull:probe:${id}`); };
await grab('added', plain.id);
await grab('omitContext', omitted.id);
await grab('bulk', bulk[0].id);
await grab('flowParent', flow.job.id);
await grab('flowChild', flow.children[0].job.id);

let seen = 0;
const worker = new Worker('probe', async (job) => {
  if (job.data.fail) throw new Error('boom');
  return { ok: job.name };
}, { connection, telemetry, name: 'probe-worker', autorun: false });
const total = 7; // plain, failing twice, omitted, b1, b2, child (the parent needs no run here)
const done = new Promise((resolve) => {
  const bump = () => { seen += 1; if (seen >= total) resolve(); };
  worker.on('completed', bump);
  worker.on('failed', bump);
});
worker.run();
await Promise.race([done, new Promise((r) => setTimeout(r, 10000))]);
await worker.close();
await grab('failedTwice', failing.id);
await grab('completed', plain.id);

await queue.close();
await flows.close();
await redis.quit();
const finished = spans(); // before shutdown(), which empties the exporter
await shutdown();
process.stdout.write(JSON.stringify({ hashes, spans: finished }, null, 1) + '\n');
