/**
 * The lineage contract: every model version the training side registers carries, as MLflow model
 * version tags, what it was built from. Anything that can rebuild or audit a model reads these.
 */
export const LINEAGE_TAGS = {
  /** The git commit (40 hex digits) of the training code. */
  codeCommit: 'mlops.lineage.code_commit',
  /** The data version: a DVC revision (a git commit or tag of the data repository) or an S3 object version. */
  dataVersion: 'mlops.lineage.data_version',
  /** `sha256:<64 hex>` of the resolved training configuration (parameters, hyper-parameters). */
  configHash: 'mlops.lineage.config_hash',
  /** `sha256:<64 hex>` digest of the training image. */
  imageDigest: 'mlops.lineage.image_digest',
  /** The id of the pipeline run that produced the version. */
  pipelineRun: 'mlops.lineage.pipeline_run',
  /** What started the run: `schedule`, `new-data`, `alert` or `manual`. */
  trigger: 'mlops.lineage.trigger',
  /** `sha256:<64 hex>` of the feature definitions the model was trained on (a FeatureStore's `featureSetVersion`). */
  featureSet: 'mlops.lineage.feature_set',
} as const;

/** What a model version was built from. */
export interface Lineage {
  readonly codeCommit: string;
  readonly dataVersion: string;
  readonly configHash: string;
  /** @default - not recorded */
  readonly imageDigest?: string;
  /** @default - not recorded */
  readonly pipelineRun?: string;
  /** @default - not recorded */
  readonly trigger?: string;
  /**
   * The feature set version (`sha256:` of a FeatureStore's definitions) the model was trained on.
   * @default - not recorded (the model reads no feature store)
   */
  readonly featureSet?: string;
}

const RULES: Record<keyof Lineage, [RegExp, string]> = {
  codeCommit: [/^[0-9a-f]{40}$/, 'a full git commit id of 40 lower-case hex digits'],
  dataVersion: [/^[A-Za-z0-9._\-/]{1,128}$/, 'a DVC revision or S3 version id of 1 to 128 letters, digits and ._-/'],
  configHash: [/^sha256:[0-9a-f]{64}$/, "'sha256:' and 64 lower-case hex digits"],
  imageDigest: [/^sha256:[0-9a-f]{64}$/, "'sha256:' and 64 lower-case hex digits"],
  pipelineRun: [/^[A-Za-z0-9._-]{1,253}$/, 'a run id of letters, digits and ._-'],
  trigger: [/^(schedule|new-data|alert|manual)$/, "one of 'schedule', 'new-data', 'alert', 'manual'"],
  featureSet: [/^sha256:[0-9a-f]{64}$/, "'sha256:' and 64 lower-case hex digits"],
};

/** The model-version tags for a lineage record; throws naming the field when a value is malformed. */
export function lineageTags(lineage: Lineage): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const field of Object.keys(RULES) as Array<keyof Lineage>) {
    const value = lineage[field];
    if (value === undefined) {
      if (field === 'imageDigest' || field === 'pipelineRun' || field === 'trigger' || field === 'featureSet') continue;
      throw new Error(`lineage.${field} is required: it must be ${RULES[field][1]}.`);
    }
    if (!RULES[field][0].test(value)) throw new Error(`lineage.${field} ('${value}') must be ${RULES[field][1]}.`);
    tags[LINEAGE_TAGS[field]] = value;
  }
  return tags;
}

/** Reads a lineage record back from model-version tags; throws naming the tag when one is missing or malformed. */
export function parseLineage(tags: Record<string, string>): Lineage {
  const read = (field: keyof Lineage) => tags[LINEAGE_TAGS[field]];
  const lineage: Lineage = {
    codeCommit: read('codeCommit'), dataVersion: read('dataVersion'), configHash: read('configHash'),
    ...(read('imageDigest') !== undefined ? { imageDigest: read('imageDigest') } : {}),
    ...(read('pipelineRun') !== undefined ? { pipelineRun: read('pipelineRun') } : {}),
    ...(read('trigger') !== undefined ? { trigger: read('trigger') } : {}),
    ...(read('featureSet') !== undefined ? { featureSet: read('featureSet') } : {}),
  };
  lineageTags(lineage);
  return lineage;
}

/**
 * The aliases a model version moves through (MLflow stages are deprecated since 2.9): a new version
 * is a candidate, may be promoted to staging, then to champion (what production serves); the
 * champion it replaces becomes archived.
 */
export class ModelAlias {
  public static readonly CANDIDATE = new ModelAlias('candidate', ['staging', 'archived']);
  public static readonly STAGING = new ModelAlias('staging', ['champion', 'archived']);
  public static readonly CHAMPION = new ModelAlias('champion', ['archived']);
  public static readonly ARCHIVED = new ModelAlias('archived', []);
  public static readonly ALL = [ModelAlias.CANDIDATE, ModelAlias.STAGING, ModelAlias.CHAMPION, ModelAlias.ARCHIVED];

  private constructor(public readonly name: string, private readonly next: string[]) {}

  /** Whether a version with this alias may move to `target`. */
  public canMoveTo(target: ModelAlias): boolean {
    return this.next.includes(target.name);
  }
}
