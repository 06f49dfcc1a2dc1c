// Shows what Queue/Worker construction sends (meta fields, INFO, client names).
// usage: node init_probe.mjs PORT
import { Queue, Worker } from 'bullmq';
import { Monitor, sleep } from './lib.mjs';

const port = Number(process.argv[2]);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const m = new Monitor(port);
await m.start();
const q = new Queue('initprobe', { connection });
await q.waitUntilReady();
await q.add('x', {});
const w = new Worker('initprobe', async () => 1, { connection, name: 'probe', autorun: true });
await sleep(500);
console.log(JSON.stringify(await q.getWorkers()));
await w.close();
await q.close();
for (const c of m.take()) console.log(JSON.stringify(c).slice(0, 300));
m.stop();
process.exit(0);
