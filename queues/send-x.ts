import { defineSendQueue } from '../src/jobs/send-queue.js';

/** Sends one x message through the x adapter (or the proof ledger in PROOF mode). */
export const sendXQueue = defineSendQueue('x');
