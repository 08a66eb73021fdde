/**
 * The old home of the JSON-RPC helpers, kept so modules outside the protocol layer's owners (upstream/, bench/,
 * tests) keep compiling while they move their imports to protocol/.
 */
export * from './protocol/jsonrpc.ts';
export * from './protocol/versions.ts';
