/**
 * Where Memoh puts things inside a workspace container (bridge-contract §1–§2, memoh-current §2), spelt once:
 * every stage, check and message builds its paths from these.
 */
export const RUNTIME_MOUNT = '/opt/memoh';
export const SOCKET_MOUNT = '/run/memoh';
export const BRIDGE_IN_CONTAINER = `${RUNTIME_MOUNT}/bridge`;
export const SOCKET_FILE = 'bridge.sock';
export const SOCKET_IN_CONTAINER = `${SOCKET_MOUNT}/${SOCKET_FILE}`;
export const MTLS_MOUNT = `${SOCKET_MOUNT}/mtls/bridge`;
/** v3: a second read-only bind onto the runtime mount; v0.18: the image's own (its contract's `paths.toolkit`). */
export const TOOLKIT_IN_CONTAINER = `${RUNTIME_MOUNT}/toolkit`;
export const SCRIPTS_IN_CONTAINER = `${RUNTIME_MOUNT}/scripts`;
export const CONTRACT_PATH = `${RUNTIME_MOUNT}/workspace-contract.json`;
export const TINI = '/usr/bin/tini';
/** The server's own install shares the root: its default `runtime_dir`, which holds the bridge it mounts. */
export const SERVER_RUNTIME_DIR = `${RUNTIME_MOUNT}/runtime`;
