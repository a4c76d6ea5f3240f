/**
 * What rigshift knows of GPU vendors, in one place: the extended resource their device plugin advertises and
 * the node labels their labeller writes (NVIDIA GPU Feature Discovery, AMD's k8s-node-labeller). A node is a
 * GPU node of the first vendor whose product label it carries.
 */

export type GpuVendorName = 'nvidia' | 'amd';

export interface GpuVendor {
  name: GpuVendorName;
  /** Extended resource of the vendor's device plugin (a MiningPool profile may name another). */
  resource: string;
  productLabel: string;
  memoryLabel: string;
  /**
   * How the memory label reads: `MiB` a whole number of MiB (GFD's `24576`); `labeller` a number with a unit
   * letter that means a binary multiple (AMD's `24G` is 24 GiB: the labeller divides bytes by 1024³).
   */
  memoryUnit: 'MiB' | 'labeller';
  /** Labels of the CUDA compute capability and driver major, where the labeller publishes them. */
  computeMajorLabel?: string;
  computeMinorLabel?: string;
  /** Tried in order: GFD renamed the label (`cuda.driver.major` is the older name). */
  driverMajorLabels?: readonly string[];
}

export const NVIDIA: GpuVendor = {
  name: 'nvidia',
  resource: 'nvidia.com/gpu',
  productLabel: 'nvidia.com/gpu.product',
  memoryLabel: 'nvidia.com/gpu.memory',
  memoryUnit: 'MiB',
  computeMajorLabel: 'nvidia.com/gpu.compute.major',
  computeMinorLabel: 'nvidia.com/gpu.compute.minor',
  driverMajorLabels: ['nvidia.com/cuda.driver-version.major', 'nvidia.com/cuda.driver.major'],
};

export const AMD: GpuVendor = {
  name: 'amd',
  resource: 'amd.com/gpu',
  productLabel: 'amd.com/gpu.product-name',
  memoryLabel: 'amd.com/gpu.vram',
  memoryUnit: 'labeller',
};

export const GPU_VENDORS: readonly GpuVendor[] = [NVIDIA, AMD];

/** The default GPU resources of every vendor (to count the GPUs of a pod on a node of unknown vendor). */
export const DEFAULT_GPU_RESOURCES: readonly string[] = GPU_VENDORS.map((v) => v.resource);

/** The vendor whose product label the node carries (NVIDIA first), if any. */
export function vendorOf(labels: Readonly<Record<string, string>> | undefined): GpuVendor | undefined {
  if (!labels) return undefined;
  return GPU_VENDORS.find((v) => Boolean(labels[v.productLabel]));
}

/** A GPU product's label, for users: `nvidia.com/gpu.product or amd.com/gpu.product-name`. */
export const PRODUCT_LABELS_TEXT = GPU_VENDORS.map((v) => v.productLabel).join(' or ');
export const MEMORY_LABELS_TEXT = GPU_VENDORS.map((v) => v.memoryLabel).join(' or ');
