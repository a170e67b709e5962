/**
 * The engine's errors are part of the contract (src-main/contract/errors.ts), where every front end
 * reads them; this re-export keeps `@core/errors` working for the engine's tests.
 */
export * from '@contract/errors';
