/**
 * Where the operator puts its own things in every server pod: the schema refuses user mounts and variables that
 * would collide with them (the API server would refuse the Deployment), and the renderer uses them.
 */
import { GATEWAY_ENV_PREFIX } from '../contract/gateway.ts';

/** The gateway runtime the init container copies (stdio). */
export const RUNTIME_DIR = '/opt/mcp-gateway';
/** HOME, on a writable emptyDir (npx/uvx caches). */
export const HOME_DIR = '/home/mcp';
/** The bearer tokens, when auth.bearer is set. */
export const AUTH_DIR = '/var/run/mcp-gateway/auth';
/** Replicas share this key to sign session ids that name the owning pod, so any replica serves any session. */
export const SESSION_DIR = '/var/run/mcp-gateway/session';
/** A VirtualMcpServer's backend list (a ConfigMap the kubelet refreshes in place; see aggregate-contract.ts). */
export const BACKENDS_DIR = '/var/run/mcp-gateway/backends';
/** A VirtualMcpServer's credentials for its backends with auth on, a file per backend (render/virtual-credentials.ts). */
export const CREDENTIALS_DIR = '/var/run/mcp-gateway/backend-credentials';
/** Every path the operator mounts a volume at. */
export const OPERATOR_MOUNT_PATHS = [
  '/tmp',
  HOME_DIR,
  RUNTIME_DIR,
  AUTH_DIR,
  SESSION_DIR,
  BACKENDS_DIR,
  CREDENTIALS_DIR,
] as const;

/** The pod's IP, for the gateway's advertised address; under the gateway's prefix like all its variables. */
export const GATEWAY_POD_IP_ENV = `${GATEWAY_ENV_PREFIX}POD_IP`;

/** Volume names the renderer itself uses in every pod. */
export const RESERVED_VOLUME_NAMES = [
  'tmp',
  'home',
  'mcp-gateway',
  'mcp-auth',
  'mcp-session',
  'mcp-backends',
  'mcp-backend-credentials',
] as const;
/** Volume sources allowed under Pod Security "restricted". */
export const ALLOWED_VOLUME_SOURCES = [
  'configMap',
  'secret',
  'emptyDir',
  'persistentVolumeClaim',
  'projected',
  'downwardAPI',
  'csi',
  'ephemeral',
] as const;
