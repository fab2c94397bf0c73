import { createClient } from 'job-center';
import { jobs } from './jobs.js';

// Enqueues one invoice, waits for a worker to finish it, and prints the job as JSON.
const client = createClient({ contracts: jobs });
try {
  await client.ready(10_000);
  const created = await client.enqueue('send-invoice', { customerId: process.argv[2] ?? 'c-42', amountCents: 12_345 });
  // Checked at compile time against this service's contracts (`npm run build` fails otherwise):
  // @ts-expect-error amountCents must be a number
  void (() => client.enqueue('send-invoice', { customerId: 'c-1', amountCents: 'lots' }));
  // @ts-expect-error the center's demo jobs are not this service's jobs
  void (() => client.enqueue('hello-world', {}));
  // @ts-expect-error each job of enqueueMany (and of batch) is typed by its name too
  void (() => client.enqueueMany([{ name: 'send-invoice', data: { customerId: 'c-1', amountCents: 'lots' } }]));
  const deadline = Date.now() + 30_000;
  let job = await client.getJob(created);
  while (job?.state !== 'completed' && job?.state !== 'failed' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    job = await client.getJob(created);
  }
  process.stdout.write(`${JSON.stringify(job)}\n`);
} finally {
  await client.close();
}
