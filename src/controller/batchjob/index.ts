export * from './adapt.js';
export * from './keys.js';
export * from './ledger.js';
export * from './progress.js';
export * from './reconciler.js';
export * from './template.js';
export * from './views.js';
export * from './grants.js';
