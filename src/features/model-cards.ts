import * as fs from 'fs';
import * as path from 'path';
import { Construct, k8s } from '../engine';
import { PlatformApp } from '../core/app';
import { check } from '../core/errors';
import { PlatformChart } from '../core/kubernetes';
import { PlatformNamespaces } from '../core/namespaces';
import { MonitoringStack } from '../monitoring/monitoring-stack';
import { TrainingPipeline } from '../pipeline/training-pipeline';
import { LINEAGE_TAGS } from '../registry/lineage';
import { CanaryRollout } from '../release/canary-rollout';
import { ServingEndpoint } from '../serving/serving-endpoint';

/** What a team says of a model that the library cannot know. */
export interface ModelCardDescription {
  /** An endpoint that serves the model; the card describes the version it serves. */
  readonly endpoint: ServingEndpoint;
  /** What the model is for, in a sentence or two. */
  readonly purpose: string;
  /**
   * Who answers for the model.
   * @default - the endpoint's team
   */
  readonly owner?: string;
  /** Known limitations: populations, inputs or uses it was not built or evaluated for. @default - none declared */
  readonly limitations?: string[];
}

/** Props of ModelCards. */
export interface ModelCardsProps {
  /** Purpose, owner and limitations per served model. @default - none: cards say the purpose is not declared */
  readonly descriptions?: ModelCardDescription[];
  /**
   * The folder cards are written to, as `<model>-<version>.md` and `.json`.
   * @default - `model-cards/` in the manifests folder (`k8s.out/model-cards/`)
   */
  readonly outdir?: string;
}

/** A lineage field of a card: known at synth, or recorded on the model version when it is registered. */
export interface ModelCardLineageField {
  /** The lineage field (`code_commit`, `data_version`, `config_hash`, ...). */
  readonly field: string;
  /** The MLflow model-version tag that holds it. */
  readonly tag: string;
  /** The value, when it is known at synth. */
  readonly value?: string;
  /** True when only the registration records it (read the tag). */
  readonly recordedAtRegistration: boolean;
}

/** An alert of an endpoint as a card lists it. */
export interface ModelCardAlert {
  /** The alert's name. */
  readonly alert: string;
  /** Its `severity` label (`critical` pages, `warning` tickets). */
  readonly severity?: string;
  /** How long its condition must hold before it fires. */
  readonly for?: string;
  /** Its PromQL condition: the monitoring threshold. */
  readonly expr: string;
  /** The Alertmanager receivers the MonitoringStack's routes send it to. */
  readonly receivers: string[];
}

/** The card of one served model version. */
export interface ModelCard {
  /** The card format's version. */
  readonly schema: 'mlops.model-card/v1';
  /** The model version: name, version (or alias), its URI and the registry's tracking URI. */
  readonly model: { readonly name: string; readonly version?: string; readonly alias?: string; readonly uri: string; readonly trackingUri: string };
  /** What the model is for, when declared. */
  readonly purpose?: string;
  /** Who answers for it. */
  readonly owner: string;
  /** Its known limitations (empty when none are declared). */
  readonly limitations: string[];
  /** What produced it: the pipeline, its data URI and each lineage field. */
  readonly lineage: { readonly pipeline?: string; readonly dataUri?: string; readonly fields: ModelCardLineageField[] };
  /** How it was evaluated: metrics, gates and fairness gates of its pipeline. */
  readonly evaluation: {
    readonly metrics: Array<{ readonly metric: string; readonly tag: string }>;
    readonly gates: Array<Record<string, unknown>>;
    /**
     * Gates on fairness (kinds starting with `fairness`: MetricGate.maxDisparity, minRatio, groupFloor),
     * each with the model-version tag (`tag`) its result is recorded in at registration.
     */
    readonly fairness: Array<Record<string, unknown>>;
  };
  /** Where it is served: each endpoint of this version. */
  readonly serving: Array<{
    readonly endpoint: string;
    readonly namespace: string;
    readonly service: string;
    readonly mode: string;
    readonly server: string;
    readonly latencyClass: string;
    readonly latencyObjectiveMs: number;
    readonly minReplicas: number;
    readonly maxReplicas: number;
    readonly release?: { readonly rollout: string; readonly strategy: string; readonly steps: unknown[]; readonly analysisTemplates: string[]; readonly detectionSeconds: number };
    readonly monitoring?: { readonly stack: string; readonly alerts: ModelCardAlert[] };
  }>;
  /** Where the card is stored with the model: a ConfigMap in the registry's namespace. */
  readonly storedAs: { readonly namespace: string; readonly configMap: string };
}

const LINEAGE_FIELDS = Object.entries(LINEAGE_TAGS) as Array<[string, string]>;

/**
 * A model card for every model version the platform serves (each ServingEndpoint's model), made at
 * synth from what the platform declares: purpose and owner (from `descriptions`), lineage and
 * evaluation gates (the TrainingPipeline that produces the model), serving, release strategy (the
 * CanaryRollout of the endpoint) and monitoring thresholds and alert routes (the MonitoringStack
 * that watches it). Written as Markdown and JSON to `k8s.out/model-cards/`, and stored with the model
 * as a ConfigMap `model-card-<model>-<version>` in the registry's namespace.
 *
 * The cards are made in a synth hook; with a KubernetesStack that applies the manifests
 * (`applyManifests`), create ModelCards before it, so that the card ConfigMaps are among them.
 */
export class ModelCards extends Construct {
  private generated?: ModelCard[];
  private readonly chart: PlatformChart;

  constructor(scope: Construct, id: string, private readonly props: ModelCardsProps = {}) {
    super(scope, id);
    (props.descriptions ?? []).forEach((d, i) => {
      check(d.purpose.trim().length > 0, this, `descriptions[${i}].purpose`, d.purpose, 'must say what the model is for');
      check(props.descriptions!.findIndex((o) => o.endpoint === d.endpoint) === i, this, `descriptions[${i}].endpoint`, d.endpoint.node.path, 'is described twice');
    });
    this.chart = new PlatformChart(this);
    // Once every endpoint, pipeline, release and monitoring stack exists.
    PlatformApp.of(this).addSynthHook({ beforeSynth: () => this.write() });
  }

  /** The cards (made on first use; synth makes them). */
  public get cards(): ModelCard[] {
    if (!this.generated) this.generated = this.generate();
    return this.generated;
  }

  private generate(): ModelCard[] {
    const root = this.node.root;
    const all = root.node.findAll();
    const endpoints = all.filter((c): c is ServingEndpoint => c instanceof ServingEndpoint);
    const pipelines = all.filter((c): c is TrainingPipeline => c instanceof TrainingPipeline);
    const releases = all.filter((c): c is CanaryRollout => c instanceof CanaryRollout);
    const monitors = all.filter((c): c is MonitoringStack => c instanceof MonitoringStack);
    const byModel = new Map<string, ServingEndpoint[]>();
    for (const e of endpoints) {
      const key = `${e.model.registry.node.path}|${e.model.uri}`;
      byModel.set(key, [...(byModel.get(key) ?? []), e]);
    }
    const cards: ModelCard[] = [];
    for (const served of byModel.values()) {
      const e = served[0];
      const v = e.model;
      const description = (this.props.descriptions ?? []).find((d) => served.includes(d.endpoint));
      const pipeline = pipelines.find((p) => p.registry === (v.registry as unknown) && p.model === v.model.name);
      const lineageTags = pipeline?.lineageTags ?? {};
      const fields: ModelCardLineageField[] = LINEAGE_FIELDS.map(([field, tag]) => {
        const value = lineageTags[tag];
        // Values the run fills in ({{...}}) exist only once the version is registered.
        return value !== undefined && !value.includes('{{') ? { field, tag, value, recordedAtRegistration: false } : { field, tag, recordedAtRegistration: true };
      });
      const gates = (pipeline?.gates ?? []).map((g) => ({ ...g.spec }));
      cards.push({
        schema: 'mlops.model-card/v1',
        model: { name: v.model.name, ...(v.version ? { version: v.version } : { alias: v.alias }), uri: v.uri, trackingUri: v.registry.trackingUri },
        ...(description ? { purpose: description.purpose } : {}),
        owner: description?.owner ?? e.team,
        limitations: [...(description?.limitations ?? [])],
        lineage: { ...(pipeline ? { pipeline: pipeline.node.path, dataUri: pipeline.dataUri } : {}), fields },
        evaluation: {
          metrics: (pipeline?.metrics ?? []).map((m) => ({ metric: m, tag: `mlops.metrics.${m}` })),
          gates,
          fairness: gates.filter((g) => String(g.kind).startsWith('fairness')),
        },
        serving: served.map((s) => ({
          endpoint: s.node.path,
          namespace: s.namespace,
          service: s.serviceName,
          mode: s.mode.kind,
          server: s.server.name,
          latencyClass: s.latencyClass.name,
          latencyObjectiveMs: s.latencyClass.objectiveMs,
          minReplicas: s.minReplicas,
          maxReplicas: s.maxReplicas,
          ...releaseOf(s, releases),
          ...monitoringOf(s, monitors),
        })),
        storedAs: { namespace: v.registry.namespace, configMap: configMapName(v.model.name, v.label) },
      });
    }
    return cards.sort((a, b) => a.storedAs.configMap.localeCompare(b.storedAs.configMap));
  }

  private write(): void {
    const app = PlatformApp.of(this);
    const dir = this.props.outdir ?? path.join(app.manifestsOutdir, 'model-cards');
    if (fs.existsSync(dir)) {
      for (const f of fs.readdirSync(dir)) if (/\.(md|json)$/.test(f)) fs.unlinkSync(path.join(dir, f));
    }
    fs.mkdirSync(dir, { recursive: true });
    for (const card of this.cards) {
      const file = card.storedAs.configMap.replace(/^model-card-/, '');
      const json = `${JSON.stringify(card, null, 2)}\n`;
      const markdown = renderModelCard(card);
      fs.writeFileSync(path.join(dir, `${file}.json`), json);
      fs.writeFileSync(path.join(dir, `${file}.md`), markdown);
      PlatformNamespaces.use(this, card.storedAs.namespace);
      new k8s.KubeConfigMap(this.chart, card.storedAs.configMap, {
        metadata: {
          name: card.storedAs.configMap, namespace: card.storedAs.namespace,
          labels: { 'app.kubernetes.io/component': 'model-card', 'mlops.io/model': card.model.name, 'mlops.io/model-version': (card.model.version ?? card.model.alias)! },
        },
        data: { 'card.json': json, 'card.md': markdown },
      });
    }
  }
}

function configMapName(model: string, label: string): string {
  return `model-card-${model}-${label.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 253).replace(/-+$/, '');
}

function releaseOf(e: ServingEndpoint, releases: CanaryRollout[]) {
  const c = releases.find((r) => {
    const doc = r.rollout.toJson();
    return doc.metadata?.namespace === e.namespace && doc.spec?.workloadRef?.name === e.name;
  });
  if (!c) return {};
  const strategy = c.rollout.toJson().spec.strategy ?? {};
  const kind = Object.keys(strategy)[0] ?? 'none';
  const steps = (strategy.canary?.steps ?? []) as unknown[];
  return { release: { rollout: c.node.path, strategy: kind, steps, analysisTemplates: [...c.templateNames], detectionSeconds: c.detectionSeconds } };
}

function monitoringOf(e: ServingEndpoint, monitors: MonitoringStack[]) {
  const ofEndpoint = (r: { labels?: Record<string, string>; expr: string }) => r.labels?.endpoint === e.name || r.expr.includes(`endpoint="${e.name}"`) || r.expr.includes(`service="${e.serviceName}",`) && r.expr.includes(`namespace="${e.namespace}"`);
  for (const m of monitors) {
    const alerts = m.ruleGroups.flatMap((g) => g.rules).filter((r) => r.alert && ofEndpoint(r));
    if (alerts.length === 0) continue;
    const routing = m.chart.node.findAll().map((o) => (o as { toJson?: () => any }).toJson?.()).find((d) => d?.kind === 'AlertmanagerConfig');
    return {
      monitoring: {
        stack: m.node.path,
        alerts: alerts.map((a) => ({
          alert: a.alert!, severity: a.labels?.severity, ...(a.for ? { for: a.for } : {}), expr: a.expr,
          // The series' own labels (the rule selects the endpoint's series) join the rule's static ones.
          receivers: receiversFor({ endpoint: e.name, namespace: e.namespace, model: e.model.model.name, ...a.labels, alertname: a.alert! }, routing?.spec?.route),
        })),
      },
    };
  }
  return {};
}

/** The receivers Alertmanager routes an alert with these labels to (first match, then on while `continue`). */
export function receiversFor(labels: Record<string, string>, route?: { receiver: string; routes?: Array<{ receiver: string; matchers?: Array<{ name: string; value: string; matchType: string }>; continue?: boolean }> }): string[] {
  if (!route) return [];
  const out: string[] = [];
  for (const r of route.routes ?? []) {
    const matches = (r.matchers ?? []).every((m) => {
      const v = labels[m.name] ?? '';
      if (m.matchType === '=~') return new RegExp(`^(?:${m.value})$`).test(v);
      if (m.matchType === '!~') return !new RegExp(`^(?:${m.value})$`).test(v);
      if (m.matchType === '!=') return v !== m.value;
      return v === m.value;
    });
    if (!matches) continue;
    out.push(r.receiver);
    if (!r.continue) return out;
  }
  return [...out, route.receiver];
}

/** The Markdown form of a card. */
export function renderModelCard(card: ModelCard): string {
  const ref = card.model.version ? `version ${card.model.version}` : `alias \`${card.model.alias}\``;
  const lines = [
    `# Model card: ${card.model.name} (${ref})`,
    '',
    `- **Model**: \`${card.model.uri}\` in ${card.model.trackingUri}`,
    `- **Owner**: ${card.owner}`,
    `- **Purpose**: ${card.purpose ?? '_not declared (ModelCards descriptions)_'}`,
    '',
    '## Limitations',
    '',
    ...(card.limitations.length ? card.limitations.map((l) => `- ${l}`) : ['_None declared._']),
    '',
    '## Lineage',
    '',
    card.lineage.pipeline ? `Trained by \`${card.lineage.pipeline}\` on \`${card.lineage.dataUri}\`.` : '_No TrainingPipeline of the platform produces this model: every field is read from the version\'s tags._',
    '',
    '| Field | Model-version tag | Value |',
    '|---|---|---|',
    ...card.lineage.fields.map((f) => `| ${f.field} | \`${f.tag}\` | ${f.recordedAtRegistration ? '_recorded at registration_' : `\`${f.value}\``} |`),
    '',
    '## Evaluation',
    '',
    ...(card.evaluation.metrics.length ? ['| Metric | Recorded in tag |', '|---|---|', ...card.evaluation.metrics.map((m) => `| ${m.metric} | \`${m.tag}\` |`), ''] : []),
    'Gates a candidate passed to be registered:',
    '',
    ...(card.evaluation.gates.length ? card.evaluation.gates.map((g) => `- ${gateText(g)}`) : ['_None known._']),
    '',
    '### Fairness',
    '',
    ...(card.evaluation.fairness.length
      ? ['Per-group metrics a candidate passed to be registered; each result (per-group values, groups left out as too small) is recorded in its model-version tag.', '',
        '| Metric | Groups | Rule | Examples per group | Smaller groups | Result tag |', '|---|---|---|---|---|---|',
        ...card.evaluation.fairness.map((g) => `| ${g.metric} | ${g.groups} | ${fairnessRule(g)} | at least ${g.min_count} | ${g.small_groups === 'exclude' ? 'left out, reported' : 'reject the candidate'} | \`${g.tag}\` |`)]
      : ['_No fairness gate declared._']),
    '',
    '## Serving',
  ];
  for (const s of card.serving) {
    lines.push('', `### \`${s.endpoint}\``, '',
      `- ${s.mode} on ${s.server}, Service \`${s.namespace}/${s.service}\`, ${s.minReplicas}–${s.maxReplicas} replicas`,
      `- Latency class ${s.latencyClass}: objective ${s.latencyObjectiveMs} ms`,
      s.release
        ? `- Release: ${s.release.strategy} by \`${s.release.rollout}\`${weights(s.release.steps)}, analysis ${s.release.analysisTemplates.join(', ')}, abort within ${s.release.detectionSeconds}s of failing`
        : '- Release: _no CanaryRollout; new versions replace the old at once_');
    if (s.monitoring) {
      lines.push(`- Monitoring: \`${s.monitoring.stack}\``, '', '| Alert | Severity | For | Receivers | Expression |', '|---|---|---|---|---|',
        ...s.monitoring.alerts.map((a) => `| ${a.alert} | ${a.severity ?? ''} | ${a.for ?? ''} | ${a.receivers.join(', ')} | \`${a.expr.replace(/\|/g, '\\|').replace(/\n/g, ' ')}\` |`));
    } else {
      lines.push('- Monitoring: _no MonitoringStack watches this endpoint_');
    }
  }
  lines.push('', '---', `Stored with the model as ConfigMap \`${card.storedAs.namespace}/${card.storedAs.configMap}\`.`, '');
  return lines.join('\n');
}

/** The traffic weights of canary steps, e.g. ` (5% → 25% → 100%)`. */
function weights(steps: unknown[]): string {
  const w = steps.map((s) => (s as { setWeight?: number }).setWeight).filter((x): x is number => x !== undefined);
  return w.length ? ` (${w.map((x) => `${x}%`).join(' → ')})` : '';
}

/** A fairness gate's rule in words (the gate step's definitions, src/pipeline/scripts.ts). */
function fairnessRule(g: Record<string, unknown>): string {
  if (g.kind === 'fairness-max-disparity') return `best − worst group ≤ ${g.max}`;
  if (g.kind === 'fairness-min-ratio') return `worst / best group ≥ ${g.min}`;
  if (g.kind === 'fairness-group-floor') return `every group ≥ ${g.min}`;
  return gateText(g);
}

function gateText(g: Record<string, unknown>): string {
  return Object.entries(g).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}
