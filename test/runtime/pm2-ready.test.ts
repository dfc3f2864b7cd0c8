import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { projectRoot, stopProcess } from '../support/engine.js';
import { testEnv } from '../setup/hooks.js';

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Whether a TCP connection to the port is accepted now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `drumbeat api` with an IPC channel, as PM2 runs it. */
function spawnApi(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'api'], {
    cwd: projectRoot,
    env: testEnv(env),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}

describe('PM2 readiness of the api process', function () {
  this.timeout(60_000);

  it("sends 'ready' only once its port accepts connections", async () => {
    const port = await freePort();
    const api = spawnApi({ HOST: '127.0.0.1', PORT: String(port) });
    api.stdout?.resume();
    api.stderr?.resume();
    try {
      const accepting = await new Promise<boolean>((resolve, reject) => {
        api.once('message', (message) => {
          // Checked the moment the message arrives: the port must already take connections.
          if (message === 'ready') accepts(port).then(resolve, reject);
          else reject(new Error(`unexpected message ${JSON.stringify(message)}`));
        });
        api.once('exit', (code) => reject(new Error(`the api exited (${code}) without sending ready`)));
      });
      expect(accepting).to.equal(true);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(200);
    } finally {
      expect(await stopProcess(api)).to.equal(0);
    }
  });

  it("exits 1 with a bad config and never sends 'ready'", async () => {
    const api = spawnApi({ PORT: 'not-a-port' });
    const messages: unknown[] = [];
    api.on('message', (message) => messages.push(message));
    let stderr = '';
    api.stdout?.resume();
    api.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(api, 'exit')) as [number | null];
    expect(code).to.equal(1);
    expect(messages).to.deep.equal([]);
    expect(stderr).to.include('PORT');
  });
});
