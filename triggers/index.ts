/** The trigger evaluator's public surface, for the process wiring, the API and the CLI. */
export { startTriggerEvaluator, applyBatch, defaultAllowedLatenessMs, defaultGroup, type TriggerEvaluatorOptions, type TriggerEvaluator } from './evaluator.ts';
export { startDeadlineTimer, type DeadlineTimerOptions, type DeadlineTimer } from './deadline-timer.ts';
export { startLifecycleEventRelay, relayLifecycleEvents, type LifecycleEventRelay, type LifecycleEventRelayOptions } from './lifecycle-event-relay.ts';
export { startAutomationCatalog, buildCatalogSnapshot, type AutomationCatalog, type CatalogSnapshot, type Logger } from './automation-catalog.ts';
export { createAutomationRepository, type AutomationRepository, type StoredAutomation, type UpsertResult } from './automation-repository.ts';
export { explain, type Explanation, type ClauseResult } from './explain.ts';
