/** A CPU architecture. */
export type Architecture = 'x86_64' | 'arm64';

interface InstanceSpec {
  readonly gpus: number;
  readonly gpuMemoryGiB: number;
  readonly vcpus: number;
  readonly memoryGiB: number;
  readonly efa: boolean;
  readonly gpuModel: string;
}

const G_SIZES: Record<string, [number, number, number, boolean]> = {
  // size: [gpus, vcpus, memory GiB, EFA]
  xlarge: [1, 4, 16, false], '2xlarge': [1, 8, 32, false], '4xlarge': [1, 16, 64, false], '8xlarge': [1, 32, 128, true],
  '12xlarge': [4, 48, 192, true], '16xlarge': [1, 64, 256, true], '24xlarge': [4, 96, 384, true], '48xlarge': [8, 192, 768, true],
};
const FAMILIES: Record<string, { gpuMemoryGiB: number; arch: Architecture; gpuModel: string; sizes: Record<string, [number, number, number, boolean]> }> = {
  g5: { gpuModel: 'nvidia-a10g', gpuMemoryGiB: 24, arch: 'x86_64', sizes: G_SIZES },
  g6: { gpuModel: 'nvidia-l4', gpuMemoryGiB: 24, arch: 'x86_64', sizes: G_SIZES },
  g6e: { gpuModel: 'nvidia-l40s', gpuMemoryGiB: 48, arch: 'x86_64', sizes: G_SIZES },
  g5g: { gpuModel: 'nvidia-t4g', gpuMemoryGiB: 16, arch: 'arm64', sizes: { xlarge: [1, 4, 8, false], '2xlarge': [1, 8, 16, false], '4xlarge': [1, 16, 32, false], '8xlarge': [1, 32, 64, false], '16xlarge': [2, 64, 128, false], metal: [2, 64, 128, false] } },
  p4d: { gpuModel: 'nvidia-a100', gpuMemoryGiB: 40, arch: 'x86_64', sizes: { '24xlarge': [8, 96, 1152, true] } },
  p5: { gpuModel: 'nvidia-h100', gpuMemoryGiB: 80, arch: 'x86_64', sizes: { '48xlarge': [8, 192, 2048, true] } },
};
// CPU families: [vcpus, memory GiB] by size (general purpose 4 GiB per vCPU, compute 2, memory 8).
const CPU_SIZES = (gibPerVcpu: number): Record<string, [number, number, number, boolean]> => Object.fromEntries(
  ([['large', 2], ['xlarge', 4], ['2xlarge', 8], ['4xlarge', 16], ['8xlarge', 32], ['12xlarge', 48], ['16xlarge', 64], ['24xlarge', 96]] as Array<[string, number]>)
    .map(([size, vcpus]) => [size, [0, vcpus, vcpus * gibPerVcpu, false]]));
for (const [family, gib] of [['m6i', 4], ['m7i', 4], ['c6i', 2], ['c7i', 2], ['r6i', 8], ['r7i', 8]] as Array<[string, number]>) {
  FAMILIES[family] = { gpuModel: '', gpuMemoryGiB: 0, arch: 'x86_64', sizes: CPU_SIZES(gib) };
}
for (const [family, gib] of [['m7g', 4], ['c7g', 2], ['r7g', 8]] as Array<[string, number]>) {
  FAMILIES[family] = { gpuModel: '', gpuMemoryGiB: 0, arch: 'arm64', sizes: CPU_SIZES(gib) };
}

/**
 * Pods per node as the EKS AMI's table sets `maxPods` for the VPC CNI (ENIs × (IPv4 addresses per
 * ENI − 1) + 2, awslabs/amazon-eks-ami `eni-max-pods.txt`), by size; 110 where a size is not listed.
 */
const MAX_PODS: Record<string, number> = {
  'large': 29, 'xlarge': 58, '2xlarge': 58, '4xlarge': 234, '8xlarge': 234, '12xlarge': 234, '16xlarge': 737, '24xlarge': 737, '48xlarge': 345, 'metal': 737,
};

/** CPU families, so that a CPU type handed to a GPU pool is recognised and refused by name. */
const CPU_FAMILY = /^(c|m|r|t|x|z|i|d|h)\d[a-z0-9-]*\.[a-z0-9]+$/;

/**
 * An EC2 instance type with what scheduling needs to know of it: GPUs, GPU memory, architecture and
 * EFA support. Typed helpers cover the GPU families the platform supports (g5, g6, g6e, g5g, p4d,
 * p5); `InstanceType.of(name)` looks any name up.
 */
export class InstanceType {
  public static g5(size: 'xlarge' | '2xlarge' | '4xlarge' | '8xlarge' | '12xlarge' | '16xlarge' | '24xlarge' | '48xlarge'): InstanceType {
    return InstanceType.of(`g5.${size}`);
  }

  public static g6(size: 'xlarge' | '2xlarge' | '4xlarge' | '8xlarge' | '12xlarge' | '16xlarge' | '24xlarge' | '48xlarge'): InstanceType {
    return InstanceType.of(`g6.${size}`);
  }

  public static g6e(size: 'xlarge' | '2xlarge' | '4xlarge' | '8xlarge' | '12xlarge' | '16xlarge' | '24xlarge' | '48xlarge'): InstanceType {
    return InstanceType.of(`g6e.${size}`);
  }

  /** Graviton with NVIDIA T4G GPUs (arm64). */
  public static g5g(size: 'xlarge' | '2xlarge' | '4xlarge' | '8xlarge' | '16xlarge' | 'metal'): InstanceType {
    return InstanceType.of(`g5g.${size}`);
  }

  /** 8 × A100 40 GB with EFA, for multi-node training. */
  public static p4d24xlarge(): InstanceType {
    return InstanceType.of('p4d.24xlarge');
  }

  /** 8 × H100 80 GB with EFA, for multi-node training. */
  public static p5_48xlarge(): InstanceType {
    return InstanceType.of('p5.48xlarge');
  }

  /**
   * Any instance type by name. GPU types are looked up in the catalogue; other names are taken as
   * CPU-only x86_64 types (and refused where GPUs are needed).
   */
  public static of(name: string): InstanceType {
    const [family, size] = name.split('.');
    const f = FAMILIES[family];
    const spec = f?.sizes[size];
    if (f && spec) {
      return new InstanceType(name, f.arch, { gpus: spec[0], gpuMemoryGiB: f.gpuMemoryGiB * spec[0], vcpus: spec[1], memoryGiB: spec[2], efa: spec[3], gpuModel: f.gpuModel });
    }
    const arm = /^[a-z]+\dg[a-z]*\./.test(name);
    return new InstanceType(name, arm ? 'arm64' : 'x86_64', undefined, CPU_FAMILY.test(name) || !!f);
  }

  private constructor(
    /** The EC2 name, e.g. `g5.12xlarge`. */
    public readonly name: string,
    public readonly architecture: Architecture,
    private readonly spec?: InstanceSpec,
    /** Whether the name is a known CPU family (or a GPU family with an unknown size). */
    private readonly knownCpu = false,
  ) {}

  /** NVIDIA GPUs per instance (0 for CPU-only types). */
  public get gpus(): number {
    return this.spec?.gpus ?? 0;
  }

  /** Total GPU memory per instance, in GiB. */
  public get gpuMemoryGiB(): number {
    return this.spec?.gpuMemoryGiB ?? 0;
  }

  public get vcpus(): number | undefined {
    return this.spec?.vcpus;
  }

  public get memoryGiB(): number | undefined {
    return this.spec?.memoryGiB;
  }

  /** Pods the kubelet admits (the EKS AMI's `maxPods` for the VPC CNI); an estimate from the size. */
  public get maxPods(): number {
    return MAX_PODS[this.name.split('.')[1]] ?? 110;
  }

  /** The GPU model, as the `k8s.amazonaws.com/accelerator` label names it (e.g. `nvidia-a10g`); '' for CPU-only types. */
  public get gpuModel(): string {
    return this.spec?.gpuModel ?? '';
  }

  /** Whether the type supports Elastic Fabric Adapter. */
  public get efa(): boolean {
    return this.spec?.efa ?? false;
  }

  /** Whether the type has NVIDIA GPUs. */
  public get isGpu(): boolean {
    return this.gpus > 0;
  }

  /** @internal */
  public get isKnown(): boolean {
    return !!this.spec || this.knownCpu;
  }

  /**
   * @internal Why a name that is not a GPU type of the catalogue is not one: a size its GPU family
   * lacks (a typo such as `g5.12xlarg`), or a name of no known family; undefined for a known type.
   */
  public get unknownReason(): string | undefined {
    if (this.spec) return undefined;
    const [family] = this.name.split('.');
    const f = FAMILIES[family];
    if (f) return `'${this.name}' is not a size of the GPU family ${family} (its sizes: ${Object.keys(f.sizes).map((s) => `${family}.${s}`).join(', ')})`;
    if (this.knownCpu) return undefined;
    return `'${this.name}' is not a known instance type (GPU families: ${Object.keys(FAMILIES).join(', ')}; CPU names look like 'm7i.2xlarge')`;
  }
}
