import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt from `node:crypto`, so no native dependency is needed.
 *
 * A hash is stored as a PHC-style string, `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64 without
 * padding), which carries its own parameters: the cost can be raised later and old hashes still
 * verify with the parameters they were made with.
 */

/** log2 of scrypt's CPU/memory cost N; 2^15 with r=8 takes 32 MiB and tens of milliseconds. */
const COST_LOG2 = 15;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

const encodedHashPattern = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

interface ScryptParameters {
  costLog2: number;
  blockSize: number;
  parallelism: number;
}

function deriveKey(password: string, salt: Buffer, length: number, parameters: ScryptParameters): Promise<Buffer> {
  const cost = 2 ** parameters.costLog2;
  const options: ScryptOptions = {
    N: cost,
    r: parameters.blockSize,
    p: parameters.parallelism,
    // scrypt needs 128·N·r bytes; Node refuses anything above its 32 MiB default unless told.
    maxmem: 256 * cost * parameters.blockSize,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}

function toBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** Hashes a password with a fresh random salt; the result is safe to store. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const parameters = { costLog2: COST_LOG2, blockSize: BLOCK_SIZE, parallelism: PARALLELISM };
  const key = await deriveKey(password, salt, HASH_BYTES, parameters);
  return `$scrypt$ln=${COST_LOG2},r=${BLOCK_SIZE},p=${PARALLELISM}$${toBase64(salt)}$${toBase64(key)}`;
}

/**
 * Whether `password` matches an encoded hash from {@link hashPassword}, compared in constant
 * time. A hash that is malformed or asks for absurd parameters never matches (rather than
 * throwing), so one corrupt row cannot break the login page or be used to exhaust memory.
 */
export async function verifyPassword(password: string, encodedHash: string): Promise<boolean> {
  const match = encodedHashPattern.exec(encodedHash);
  if (match === null) return false;
  const [, costLog2, blockSize, parallelism, salt, hash] = match;
  const parameters = { costLog2: Number(costLog2), blockSize: Number(blockSize), parallelism: Number(parallelism) };
  if (parameters.costLog2 < 10 || parameters.costLog2 > 20) return false;
  if (parameters.blockSize < 1 || parameters.blockSize > 32) return false;
  if (parameters.parallelism < 1 || parameters.parallelism > 16) return false;
  const expected = Buffer.from(hash ?? '', 'base64');
  if (expected.length < 16 || expected.length > 128) return false;
  const actual = await deriveKey(password, Buffer.from(salt ?? '', 'base64'), expected.length, parameters);
  return timingSafeEqual(actual, expected);
}
