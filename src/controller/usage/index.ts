export * from './figures.js';
export * from './ledger.js';
export * from './reconciler.js';
