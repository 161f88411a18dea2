// Pins the model version an alias points to, for a pull request (GitOps):
//
//   node scripts/pin-model-version.mjs --tracking-uri http://localhost:5000 --model fraud-detector --alias staging \
//     --out releases/fraud-detector.json
//
// reads the alias from the registry (MLflow's GetModelVersionByAlias) and writes the version number, its
// artifact prefix (when it is on S3) and its lineage tags as JSON, the shape `model.version(pin.version, pin)`
// takes. Committing the file is what starts the release; the alias itself never reaches a pod.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const LINEAGE = {
  'mlops.lineage.code_commit': 'codeCommit',
  'mlops.lineage.data_version': 'dataVersion',
  'mlops.lineage.config_hash': 'configHash',
  'mlops.lineage.image_digest': 'imageDigest',
  'mlops.lineage.pipeline_run': 'pipelineRun',
  'mlops.lineage.trigger': 'trigger',
};

function option(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const trackingUri = option('tracking-uri') ?? process.env.MLFLOW_TRACKING_URI;
const model = option('model');
const alias = option('alias') ?? 'staging';
const out = option('out');
if (!trackingUri || !model) {
  console.error('usage: pin-model-version.mjs --tracking-uri <uri> --model <name> [--alias staging] [--out <file>]');
  process.exit(2);
}

const url = `${trackingUri.replace(/\/$/, '')}/api/2.0/mlflow/registered-models/alias?${new URLSearchParams({ name: model, alias })}`;
const response = await fetch(url);
if (!response.ok) {
  console.error(`${model}@${alias}: the registry answered ${response.status}: ${await response.text()}`);
  process.exit(1);
}
const { model_version: v } = await response.json();
const tags = Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value]));
const lineage = Object.fromEntries(Object.entries(LINEAGE).filter(([tag]) => tags[tag] !== undefined).map(([tag, field]) => [field, tags[tag]]));
const pin = {
  model,
  version: String(v.version),
  ...(typeof v.source === 'string' && v.source.startsWith('s3://') ? { source: v.source.endsWith('/') ? v.source : `${v.source}/` } : {}),
  ...(Object.keys(lineage).length ? { lineage } : {}),
};
const text = `${JSON.stringify(pin, null, 2)}\n`;
if (out) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  console.log(`${model}@${alias} is version ${pin.version}: wrote ${out}`);
} else {
  process.stdout.write(text);
}
