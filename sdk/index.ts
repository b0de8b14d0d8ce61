/** The Vigil TypeScript SDK. */
export { VigilClient, sdkVersion, type VigilClientOptions } from './vigil-client.ts';
export { VigilApiError, VigilDeliveryError, dropReasons, type ApiProblem, type DropReason } from './errors.ts';
export type { EmitterStats, RetryInfo } from './event-batcher.ts';
export type { StreamOptions } from './events-api.ts';
export { AutomationsApi } from './automations-api.ts';
export { EventsApi } from './events-api.ts';
export { ActionRunsApi } from './action-runs-api.ts';
export { FiringsApi, type AllFiringsFilter } from './firings-api.ts';
export { KeysApi } from './keys-api.ts';
export { ConnectionsApi } from './connections-api.ts';
export * from './types.ts';
