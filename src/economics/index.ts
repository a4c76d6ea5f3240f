export { Decimal, type RoundingMode } from './decimal.js';
export { parseQuantity, hashrateMhs, hashrateMhsExact } from './quantity.js';
export { formatUsd, formatRate, roundMoney } from './money.js';
export {
  type GpuProfile,
  type GpuProfileSpec,
  type ModeRates,
  profileFromSpec,
  decimalNumber,
  powerCostPerGpuHour,
  miningRevenuePerGpuHour,
  miningYieldPerGpuHour,
  rentalNetPerGpuHour,
  idlePerGpuHour,
  modeRates,
  miningYieldExact,
  rentalNetExact,
  idleExact,
} from './rates.js';
export { switchFactor, stepEarnings } from './accounting.js';
