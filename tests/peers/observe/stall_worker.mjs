// Child worker for the stall scenario: processes one queue with short locks,
// sleeping SLEEP_MS per job, and prints "active <id>" when a job starts.
// argv: port queue workerName sleepMs
import { Worker } from 'bullmq';

const [port, queue, name, sleepMs] = process.argv.slice(2);
const worker = new Worker(
  queue,
  async (job) => {
    process.stdout.write(`active ${job.id}\n`);
    await new Promise((r) => setTimeout(r, Number(sleepMs)));
    return { by: name };
  },
  {
    connection: { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null },
    name,
    lockDuration: 1000,
    stalledInterval: 1000,
    maxStalledCount: 1,
    drainDelay: 1,
  },
);
worker.on('failed', (job, err) => process.stdout.write(`failed ${job && job.id} ${err.message}\n`));
worker.on('completed', (job) => process.stdout.write(`completed ${job.id}\n`));
worker.on('stalled', (id) => process.stdout.write(`stalled ${id}\n`));
worker.on('error', (e) => process.stdout.write(`error ${e.message}\n`));
process.on('SIGTERM', async () => {
  await worker.close();
  process.exit(0);
});
