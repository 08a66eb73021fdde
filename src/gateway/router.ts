/**
 * The old name of the mux (mux/mux.ts), kept so the session and HTTP layers' imports keep working while they are
 * reshaped in parallel; new code imports `Mux` from mux/mux.ts.
 */
export { Mux as Router, type MuxOptions as RouterOptions, type MuxPolicy as RouterPolicy } from './mux/mux.ts';
