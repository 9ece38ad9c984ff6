import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { BridgeCallError, BridgeClient, CHANNEL_OPTIONS, codeName } from './client.js';
import { WIRE_NAMES, serviceName, type WireName } from './proto.js';

export interface BridgeConnection {
  /** The wire name the bridge answered on. */
  service: WireName;
  client: BridgeClient;
  close(): void;
}

/** The bridge is not answering yet (no socket, refused, no answer in time): worth another try. */
export class BridgeNotReady extends Error {
  override readonly name = 'BridgeNotReady';
}

/** The bridge answers, but not ContainerService under any name tried: final. */
export class NoContainerService extends Error {
  override readonly name = 'NoContainerService';
  constructor(
    message: string,
    readonly tried: readonly WireName[],
  ) {
    super(message);
  }
}

/** grpc-js wants `unix:///abs/path`; a relative socket path would be read as an authority (contract §4). */
export function dialTarget(socketPath: string): string {
  return `unix://${resolve(socketPath)}`;
}

/**
 * Dials unix://socketPath and finds the wire name ContainerService answers on, with Stat("/") as the probe
 * (the bridge has no health service). With 'auto' it tries mcpcontainer (v3 bridges) then bridgepb;
 * UNIMPLEMENTED means "not under this name", any other answer means the service is there.
 */
export async function connectBridge(
  socketPath: string,
  opts: { service: 'auto' | WireName; deadlineMs: number },
): Promise<BridgeConnection> {
  const path = resolve(socketPath);
  try {
    const st = await stat(path);
    if (!st.isSocket()) throw new BridgeNotReady(`${path} exists but is not a socket`);
  } catch (err) {
    if (err instanceof BridgeNotReady) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new BridgeNotReady(code === 'ENOENT' ? `socket ${path} does not exist yet` : `socket ${path}: ${(err as Error).message}`);
  }

  const channel = new grpc.Client(dialTarget(path), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const candidates = opts.service === 'auto' ? WIRE_NAMES : [opts.service];
  const tried: WireName[] = [];
  try {
    for (const wire of candidates) {
      const client = new BridgeClient(channel, wire);
      try {
        await client.stat('/', { deadlineMs: opts.deadlineMs });
      } catch (err) {
        if (!(err instanceof BridgeCallError)) throw err;
        if (err.code === grpc.status.UNIMPLEMENTED) {
          tried.push(wire);
          continue;
        }
        if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
          throw new BridgeNotReady(`bridge at ${path} is not answering: ${codeName(err.code)}${err.details ? ` (${err.details})` : ''}`);
        }
        // Any other status (even an error) came from ContainerService itself: it is there.
      }
      return { service: wire, client, close: () => channel.close() };
    }
    const names = tried.map(serviceName).join(' and ');
    const forced = opts.service === 'auto' ? '' : ` (forced by --service ${opts.service}; try --service auto)`;
    throw new NoContainerService(`bridge at ${path} answers neither name tried: ${names} gave UNIMPLEMENTED${forced}`, tried);
  } catch (err) {
    channel.close();
    throw err;
  }
}
