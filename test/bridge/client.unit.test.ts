import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeCallError, BridgeClient, CHANNEL_OPTIONS } from '../../src/bridge/client.js';
import { containerServices } from '../../src/bridge/proto.js';
import { rmrf, tempDir } from '../support/tmp.js';

const MiB = 1024 * 1024;

/**
 * A real gRPC server in this process (grpc-js, the bridge's own service definition, a Unix socket) that
 * records the WriteFile requests it decodes: what the client put on the wire, as any bridge would read it.
 */
async function writeFileServer(dir: string, name: string, maxReceive: number) {
  const got: { path: string; content: Buffer }[] = [];
  const server = new grpc.Server({ 'grpc.max_receive_message_length': maxReceive });
  server.addService(containerServices.bridgepb, {
    WriteFile: (
      call: grpc.ServerUnaryCall<{ path: string; content: Buffer }, object>,
      cb: grpc.sendUnaryData<object>,
    ) => {
      got.push(call.request);
      cb(null, {});
    },
  });
  const address = `unix:${join(dir, name)}`;
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const channel = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const client = new BridgeClient(channel, 'bridgepb', { deadlineMs: 20_000 });
  const close = () => {
    channel.close();
    server.forceShutdown();
  };
  return { got, client, close };
}

describe('WriteFile of a given size (the message-limit check)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('client');
  });
  afterAll(() => rmrf(dir));

  it('is one well-formed WriteFileRequest: the path, then that many zero bytes of content', async () => {
    const s = await writeFileServer(dir, 'open.sock', 64 * MiB);
    try {
      await s.client.writeFileOfSize('large/17m.txt', 17 * MiB);
      await s.client.writeFileOfSize('small.txt', 3);
      expect(s.got.map((r) => [r.path, r.content.length])).toEqual([
        ['large/17m.txt', 17 * MiB],
        ['small.txt', 3],
      ]);
      expect(s.got[0]!.content.equals(Buffer.alloc(17 * MiB))).toBe(true);
      expect(s.got[1]!.content).toEqual(Buffer.alloc(3));
    } finally {
      s.close();
    }
  });

  it('is refused as RESOURCE_EXHAUSTED by a server holding 16 MiB, as a v0.18 bridge does', async () => {
    const s = await writeFileServer(dir, 'limited.sock', 16 * MiB);
    try {
      const err = await s.client.writeFileOfSize('large/17m.txt', 17 * MiB).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BridgeCallError);
      expect((err as BridgeCallError).codeName).toBe('RESOURCE_EXHAUSTED');
      expect(s.got).toEqual([]);
    } finally {
      s.close();
    }
  });
});
