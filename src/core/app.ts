import * as fs from 'fs';
import * as path from 'path';
import type { IConstruct } from '../engine';
import { Chart, KubernetesApp, TerraformApp, Yaml } from '../engine';
import { PLATFORM_CHECKS } from '../check';
import { PlatformCheckError, PlatformChecks, PlatformFinding, runPlatformChecks } from '../check/check';
import { PlatformContext, PlatformContextProps } from './context';
import { PlatformNamespaces } from './namespaces';
import { ImagePinning } from './workloads';
import type { SynthesizedPlatform } from '../check/model';
import { declaredClusterPools } from './identity';

/** Props of a PlatformApp. */
export interface PlatformAppProps {
  /** The platform's name, environment, region, account and owning team. */
  readonly platform: PlatformContextProps;
  /**
   * Where Terraform JSON is written.
   * @default - `CDKTF_OUTDIR` when the cdktf CLI runs the app, else `cdktf.out`
   */
  readonly outdir?: string;
  /**
   * Where Kubernetes manifests are written: one folder per stack, one `<construct>.k8s.yaml` file
   * per chart.
   * @default - a `k8s.out` folder next to the Terraform output folder
   */
  readonly manifestsOutdir?: string;
  /**
   * Run the platform check at synth: every Terraform stack and every chart read together, the way the
   * API server, its admission, the controllers and the AWS APIs would, and synth fails listing every
   * problem. Suppress one finding with `PlatformChecks.suppress(scope, check, reason)` instead.
   * @default true
   */
  readonly checks?: boolean;
}

/** Something that must run once every construct exists and before the app is written. */
export interface ISynthHook {
  /** Called once by `PlatformApp.synth()`, before Terraform JSON and manifests are written. */
  beforeSynth(): void;
}

/** Install order, as kubectl and GitOps tools want it: what others depend on comes first. */
const KIND_ORDER = ['Namespace', 'CustomResourceDefinition', 'PriorityClass', 'ResourceQuota', 'LimitRange',
  'ServiceAccount', 'Secret', 'ConfigMap', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

/**
 * The root of a platform: a CDK for Terraform app (Terraform JSON per stack in `cdktf.out`) that
 * also owns a cdk8s app whose charts are written as YAML, one file per chart, to `k8s.out`.
 *
 * Library constructs live in Terraform stacks; the Kubernetes objects they own go into a
 * `PlatformChart` that attaches here. Manifests hold only deterministic names, so they can be
 * applied by a GitOps tool or `kubectl apply` without values that exist only after `terraform apply`.
 */
export class PlatformApp extends TerraformApp {
  /** The PlatformApp a construct belongs to. */
  public static of(scope: IConstruct): PlatformApp {
    const root = scope.node.root;
    if (!(root instanceof PlatformApp)) {
      throw new Error(`'${scope.node.path}' is not inside a PlatformApp: the constructs of this library need the platform context (name, environment, region, account, team) that a PlatformApp holds. Create the stack with 'new PlatformStack(new PlatformApp({ platform: {...} }), ...)'.`);
    }
    return root;
  }

  /** The validated platform context. */
  public readonly context: PlatformContext;
  /** The cdk8s app that holds every chart of the platform. */
  public readonly kubernetes: KubernetesApp;
  /** The folder manifests are written to. */
  public readonly manifestsOutdir: string;
  private readonly hooks: ISynthHook[] = [];
  private readonly clusterNeeds: Array<{ requester: IConstruct; what: string }> = [];
  private clusterWriter?: IConstruct;
  private readonly checksEnabled: boolean;
  private prepared = false;

  constructor(props: PlatformAppProps) {
    super({ outdir: props.outdir });
    this.context = new PlatformContext(this, props.platform);
    this.manifestsOutdir = props.manifestsOutdir ?? path.join(path.dirname(path.resolve(this.outdir)), 'k8s.out');
    this.kubernetes = new KubernetesApp({ outdir: this.manifestsOutdir });
    this.checksEnabled = props.checks ?? true;
  }

  /** Registers work to do once every construct exists (add-ons, values written into the cluster). */
  public addSynthHook(hook: ISynthHook): void {
    this.hooks.push(hook);
  }

  /**
   * Records that `requester` needs something written into the cluster by Terraform (`what`, e.g.
   * "ConfigMap 'mlflow/mlflow-db'"); synth fails with a clear error when the app has no KubernetesStack.
   */
  public requireClusterWriter(requester: IConstruct, what: string): void {
    this.clusterNeeds.push({ requester, what });
  }

  /** @internal Called by the KubernetesStack; a platform has one. */
  public registerClusterWriter(stack: IConstruct): void {
    if (this.clusterWriter) {
      throw new Error(`'${stack.node.path}': this platform already has a KubernetesStack ('${this.clusterWriter.node.path}'); a platform writes into its cluster from one stack, so that each add-on is installed once.`);
    }
    this.clusterWriter = stack;
  }

  /** Every chart of the platform, by output file (relative to `manifestsOutdir`). */
  public get charts(): Array<{ file: string; chart: Chart }> {
    return this.kubernetes.node.children
      .filter((c): c is Chart => Chart.isChart(c))
      .map((chart) => ({ file: chartFile(chart), chart }))
      .sort((a, b) => a.file.localeCompare(b.file));
  }

  /**
   * Writes Terraform JSON for every stack, runs the platform check, then writes YAML for every chart.
   * Throws a `PlatformCheckError` listing every finding when the platform would not deploy or work.
   */
  public synth(): void {
    const findings = this.synthAndCheck();
    if (this.checksEnabled && findings.length > 0) throw new PlatformCheckError(findings);
    this.writeManifests();
  }

  /**
   * Writes Terraform JSON for every stack and returns what the platform check finds, without
   * throwing and without writing manifests (`PlatformTesting.findings` uses it).
   */
  public synthAndCheck(): PlatformFinding[] {
    if (!this.prepared) {
      if (!this.clusterWriter && this.clusterNeeds.length > 0) {
        const list = this.clusterNeeds.map((n) => `'${n.requester.node.path}' needs ${n.what}`).join('; ');
        throw new Error(`This platform has no KubernetesStack to write into its cluster: ${list}. Add 'new KubernetesStack(app, 'kubernetes', { clusterName })'.`);
      }
      for (const hook of this.hooks.splice(0)) hook.beforeSynth();
      // After the KubernetesStack has claimed the namespaces Terraform creates.
      PlatformNamespaces.writeClusterNamespaces(this);
      this.prepared = true;
    }
    super.synth();
    return runPlatformChecks(this.synthesized(), [...PLATFORM_CHECKS, ...PlatformChecks.addedTo(this)], PlatformChecks.suppressionsOf(this));
  }

  /** The Terraform JSON written for each stack, the manifests of each chart and each chart's construct path. */
  public synthesized(): SynthesizedPlatform {
    const terraform: Record<string, any> = {};
    for (const stack of this.node.children) {
      const file = path.join(this.outdir, 'stacks', stack.node.id, 'cdk.tf.json');
      if (fs.existsSync(file)) terraform[stack.node.id] = JSON.parse(fs.readFileSync(file, 'utf8'));
    }
    const owners: Record<string, string> = {};
    for (const { file, chart } of this.charts) owners[file] = ((chart as { owner?: IConstruct }).owner ?? chart).node.path;
    const describedNodePools = declaredClusterPools(this).map(({ cluster, pool }) => ({
      cluster: cluster.clusterName, name: pool.name, labels: pool.labels, taints: [...(pool.taints ?? [])], instanceTypes: pool.instanceTypes, capacityType: pool.capacityType,
    }));
    return { terraform, manifests: this.manifests(), owners, imageExceptions: ImagePinning.exceptionsOf(this), describedNodePools };
  }

  /** The manifests of every chart, as plain objects in install order, by output file. */
  public manifests(): Record<string, Array<Record<string, any>>> {
    const out: Record<string, Array<Record<string, any>>> = {};
    for (const { file, chart } of this.charts) {
      const docs = chart.toJson() as Array<Record<string, any>>;
      out[file] = docs.map((doc, i) => ({ doc, i }))
        .sort((a, b) => kindRank(a.doc.kind) - kindRank(b.doc.kind) || a.i - b.i)
        .map(({ doc }) => doc);
    }
    return out;
  }

  private writeManifests(): void {
    const manifests = this.manifests();
    removeStaleManifests(this.manifestsOutdir);
    for (const [file, docs] of Object.entries(manifests)) {
      const target = path.join(this.manifestsOutdir, file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, Yaml.stringify(...docs));
    }
  }
}

function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i === -1 ? KIND_ORDER.length : i;
}

function chartFile(chart: Chart): string {
  const owner = (chart as { owner?: IConstruct }).owner;
  if (!owner) return `${chart.node.id}.k8s.yaml`;
  const [stack, ...rest] = owner.node.scopes.slice(1).map((s) => s.node.id);
  return `${stack}/${rest.length ? rest.join('-') : stack}.k8s.yaml`;
}

/** Removes what an earlier synth wrote, so that a deleted chart does not live on in GitOps. */
function removeStaleManifests(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      removeStaleManifests(full);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
    } else if (entry.name.endsWith('.k8s.yaml')) {
      fs.unlinkSync(full);
    }
  }
}
