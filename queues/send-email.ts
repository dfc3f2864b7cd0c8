import { defineSendQueue } from '../src/jobs/send-queue.js';

/** Sends one email message through the email adapter (or the proof ledger in PROOF mode). */
export const sendEmailQueue = defineSendQueue('email');
