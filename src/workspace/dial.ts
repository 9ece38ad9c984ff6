import { type BridgeConnection, connectBridgeTarget, NoContainerService } from '../bridge/connect.js';
import type { WireName } from '../bridge/proto.js';
import type { BridgeTarget } from '../core/era.js';

export interface DialOptions {
  service: 'auto' | WireName;
  deadlineMs: number;
  /** The wire name this era's Memoh dials, tried first with 'auto'. */
  prefer: WireName;
}

/**
 * Dials the bridge where the workspace's shape put it, asking first under the wire name the era's Memoh uses
 * (a bridge that answers both, like the test world's stand-in, is then seen as that Memoh sees it), and only
 * then under the other, so a bridge of the wrong era still connects and the suite can say why it cannot work.
 */
export async function dialBridge(target: BridgeTarget, opts: DialOptions): Promise<BridgeConnection> {
  if (opts.service !== 'auto')
    return connectBridgeTarget(target, { service: opts.service, deadlineMs: opts.deadlineMs });
  try {
    return await connectBridgeTarget(target, { service: opts.prefer, deadlineMs: opts.deadlineMs });
  } catch (err) {
    if (!(err instanceof NoContainerService)) throw err;
    const other: WireName = opts.prefer === 'bridgepb' ? 'mcpcontainer' : 'bridgepb';
    return connectBridgeTarget(target, { service: other, deadlineMs: opts.deadlineMs }).catch((again: unknown) => {
      throw again instanceof NoContainerService
        ? new NoContainerService(`${err.message}; ${again.message}`, [...err.tried, ...again.tried])
        : again;
    });
  }
}
