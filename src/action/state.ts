import * as core from '@actions/core';
import type { LedgerEntry } from '../core/ledger.js';

/** The only place that saves or reads state between the main and post steps. */
export interface CacheRequest {
  key: string;
  paths: string[];
}

export const state = {
  saveLedger(entries: readonly LedgerEntry[]): void {
    core.saveState('ledger', JSON.stringify(entries));
  },
  ledger(): LedgerEntry[] {
    return parse<LedgerEntry[]>(core.getState('ledger')) ?? [];
  },
  saveCacheRequest(req: CacheRequest): void {
    core.saveState('cache', JSON.stringify(req));
  },
  cacheRequest(): CacheRequest | undefined {
    return parse<CacheRequest>(core.getState('cache'));
  },
  markMainDone(): void {
    core.saveState('main-done', 'true');
  },
  mainDone(): boolean {
    return core.getState('main-done') === 'true';
  },
};

function parse<T>(text: string): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
