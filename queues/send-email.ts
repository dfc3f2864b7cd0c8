import { defineSendQueue } from '../src/messages/send-queue.js';

/** Sends one email message through the email adapter (or the proof ledger in PROOF mode). */
export const sendEmailQueue = defineSendQueue('email');
