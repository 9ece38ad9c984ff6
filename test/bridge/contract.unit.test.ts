import { describe, expect, it } from 'vitest';
import { BridgeCallError } from '../../src/bridge/client.js';
import { memohBridgeError } from '../../src/bridge/suite-contract.js';

// Memoh's error words (no engine); the contract through the v0.18 stand-in is in contract.test.ts.

describe("bridge errors in Memoh's words (bridge/errors.go)", () => {
  it('NOT_FOUND, INVALID_ARGUMENT and UNAVAILABLE get their words; other codes "grpc <Go code name>"', () => {
    const e = (code: number, details: string) => memohBridgeError(new BridgeCallError('Stat', code, details));
    expect(e(5, 'not found')).toBe('not found: not found');
    expect(e(3, 'path is required')).toBe('invalid argument: path is required');
    expect(e(14, 'connection refused')).toBe('unavailable: connection refused');
    expect(e(13, 'stat: loop')).toBe('grpc Internal: stat: loop');
    expect(e(7, 'denied')).toBe('grpc PermissionDenied: denied');
    expect(e(1, 'gone')).toBe('grpc Canceled: gone');
  });
});
