export type {
  ConfigMapKeyRefSpec,
  HttpPriceSpec,
  LastGood,
  PriceKnown,
  PriceProblem,
  PriceProblemCode,
  PriceReading,
  PriceSource,
  PriceSourceSpec,
  PriceUnknown,
  RawResult,
  RawSource,
} from './types.js';
export { createPriceSource, specProblem, HTTP_DEFAULTS, type SourceDeps } from './factory.js';
export { PriceSourceCache } from './cache.js';
export { inputsKnown, type InputsKnown } from './known.js';
export {
  ValidatedSource,
  DEFAULT_OUTLIER_RULE,
  type OutlierRule,
  type ValidationOptions,
} from './validated.js';
export { HttpJsonSource, DEFAULT_MAX_BODY_BYTES, redactUrl } from './http.js';
export { ConfigMapKeySource, type ConfigMapData } from './configmap.js';
export { StaticSource } from './static.js';
export { parsePrice, toPlainDecimal } from './decimal.js';
export { lookupField, parseFieldPath } from './field-path.js';
