/** The old home of ClientSession, kept so the HTTP layer's imports keep working; it lives in mux/session.ts. */
export * from './mux/session.ts';
