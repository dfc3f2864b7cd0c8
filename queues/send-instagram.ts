import { defineSendQueue } from '../src/jobs/send-queue.js';

/** Sends one instagram message through the instagram adapter (or the proof ledger in PROOF mode). */
export const sendInstagramQueue = defineSendQueue('instagram');
