import { EraRules } from '../../src/bridge/eras.js';

/** Era rules as each era's bridge describes itself through reflection (the stand-ins' traits). */
export const V3_RULES = new EraRules('v3', { wire: 'mcpcontainer', reflection: 'v1alpha', methods: 10 });
export const V018_RULES = new EraRules('v0.18', {
  wire: 'bridgepb',
  reflection: 'v1',
  methods: 14,
  execEnvFields: true,
  listDirMaxEntries: true,
});
