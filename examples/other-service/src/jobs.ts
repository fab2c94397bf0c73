import { defineJob } from 'job-center';
import { z } from 'zod';

// This service's own job catalog: the job center knows nothing of it until it is passed in.
export const sendInvoice = defineJob({
  name: 'send-invoice',
  queue: 'billing',
  description: 'Renders and sends an invoice.',
  schema: z.object({ customerId: z.string().min(1), amountCents: z.number().int().positive() }).strict(),
  defaults: { attempts: 2 },
});

export const jobs = { [sendInvoice.name]: sendInvoice } as const;
