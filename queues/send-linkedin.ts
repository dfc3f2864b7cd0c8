import { defineSendQueue } from '../src/jobs/send-queue.js';

/** Sends one linkedin message through the linkedin adapter (or the proof ledger in PROOF mode). */
export const sendLinkedinQueue = defineSendQueue('linkedin');
