/**
 * The one typed contract between the engine and its three transports
 * (Electron IPC, the WebSocket browser host, the CLI). Each operation has a
 * `<service>:<method>` channel, an input schema checked at every transport
 * boundary, and an output schema.
 *
 * This folder (contract/) is the one way in: the channels (channels.ts), the schemas of what crosses a
 * transport (schemas.ts), the errors every front end reads (errors.ts), the WebSocket frames (ws.ts), the
 * hand-written API (api.ts) and its derivation from the channels (proxy.ts), and the human formatting all
 * front ends share (format.ts). It imports nothing but zod and itself: never core/, electron/, host/, cli/
 * or src-renderer/ (test/architecture.test.ts holds this).
 */
export * from './schemas';
export * from './channels';
export { OkError, isOkError, toErrorPayload, ERROR_CODES, type ErrorPayload, type ErrorCode } from './errors';
export { validateInput, validateOutput, formatZodError, isChannel } from './validate';
export type { OkLinuxApi, Unsubscribe } from './api';
export { apiFrom, type ContractCall } from './proxy';
