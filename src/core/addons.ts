import type { IConstruct } from '../engine';
import { PlatformApp } from './app';
import type { PodSecurityLevel } from './namespaces';

/**
 * The securityContext of Argo Workflows' executor containers (`init`, `wait`): the restricted Pod
 * Security Standard (no privilege escalation, no capabilities, non-root, the runtime's seccomp profile).
 */
export const ARGO_EXECUTOR_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/**
 * Why the `monitoring` namespace is privileged: kube-prometheus-stack installs the node exporter
 * (the prometheus-node-exporter chart) into its release namespace, with `hostNetwork`, `hostPID` and
 * hostPath mounts of `/`, `/proc` and `/sys`, which baseline forbids.
 */
export const MONITORING_PRIVILEGED_REASON = 'kube-prometheus-stack runs its node exporter in this namespace with hostNetwork, hostPID and hostPath mounts of /, /proc and /sys, which the baseline level forbids; the platform\'s own objects here are rules and configuration, not pods.';

export * from './addon-catalog';

const ISTIO_CHARTS = 'https://istio-release.storage.googleapis.com/charts';
const ISTIO_VERSION = '1.27.1';
/** The service account the AWS Load Balancer Controller runs as (its Pod Identity association names it). */
export const LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = 'aws-load-balancer-controller';

/** Props of an Addon. */
export interface AddonProps {
  /** The Helm release name; unique within the platform. */
  readonly name: string;
  /** The namespace the controller runs in. */
  readonly namespace: string;
  /** The Helm repository URL (`https://...` or `oci://...`). */
  readonly repository: string;
  /** The chart name. */
  readonly chart: string;
  /** The pinned chart version. */
  readonly version: string;
  /**
   * Chart values.
   * @default - the chart's defaults
   */
  readonly values?: Record<string, unknown>;
  /**
   * The Pod Security level the chart's pods meet with these values, which the release's namespace
   * enforces (a namespace other than `kube-system`, created by the KubernetesStack).
   * @default 'restricted'
   */
  readonly podSecurity?: PodSecurityLevel;
  /** Why the chart's pods cannot meet `restricted`; required for another level. @default - none */
  readonly podSecurityReason?: string;
  /**
   * Add-ons (by release name) that must be installed before this one, e.g. the CRDs its controller watches.
   * @default - none
   */
  readonly dependsOn?: string[];
}

/**
 * A third-party controller the platform's constructs rely on, installed once per cluster at a pinned
 * chart version by a `KubernetesStack`, however many constructs need it.
 */
export class Addon {
  /**
   * Argo Rollouts: canary and blue-green releases (CanaryRollout). With `gatewayApiPluginLocation`,
   * the controller loads the Gateway API traffic router plugin from there (pin a release).
   */
  public static argoRollouts(options: { readonly gatewayApiPluginLocation?: string } = {}): Addon {
    return new Addon({
      name: 'argo-rollouts', namespace: 'argo-rollouts', repository: 'https://argoproj.github.io/argo-helm', chart: 'argo-rollouts', version: '2.40.1',
      values: options.gatewayApiPluginLocation
        ? { controller: { trafficRouterPlugins: [{ name: 'argoproj-labs/gatewayAPI', location: options.gatewayApiPluginLocation }] } }
        : undefined,
    });
  }

  /**
   * Argo Workflows: training pipelines (TrainingPipeline). The controller injects an `init` and a
   * `wait` container into every workflow pod with the securityContext of the chart's
   * `executor.securityContext` (workflow-controller-configmap `executor`; argo-workflows
   * `workflow/controller/workflowpod.go`, `newExecContainer`), empty by default: set here to the
   * restricted Pod Security Standard, or every pod in a `restricted` namespace is refused. The
   * controller and server pods get the seccomp profile the chart's 0.45 defaults lack.
   */
  public static argoWorkflows(): Addon {
    const restrictedPod = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
    return new Addon({
      name: 'argo-workflows', namespace: 'argo', repository: 'https://argoproj.github.io/argo-helm', chart: 'argo-workflows', version: '0.45.19',
      values: {
        executor: { securityContext: ARGO_EXECUTOR_SECURITY_CONTEXT },
        // Workflows run only what a WorkflowTemplate of their namespace says (argo-workflows
        // docs/workflow-restrictions.md): a workload allowed to create Workflows (the retraining trigger)
        // cannot run its own steps, images or service accounts, and a template changed after submission stops the run.
        controller: { podSecurityContext: restrictedPod, workflowRestrictions: { templateReferencing: 'Secure' } },
        server: { podSecurityContext: restrictedPod },
      },
    });
  }

  /** The Prometheus operator stack: Prometheus, Alertmanager and Grafana (MonitoringStack). */
  public static kubePrometheusStack(): Addon {
    const release = { matchLabels: { release: 'kube-prometheus-stack' } };
    const monitoringOnly = { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } };
    return new Addon({
      name: 'kube-prometheus-stack', namespace: 'monitoring', repository: 'https://prometheus-community.github.io/helm-charts', chart: 'kube-prometheus-stack', version: '75.15.1',
      podSecurity: 'privileged', podSecurityReason: MONITORING_PRIVILEGED_REASON,
      // Selectors said explicitly, so that what PrometheusInstance.kubePrometheusStack() promises is what runs.
      values: {
        prometheus: { prometheusSpec: {
          serviceMonitorSelector: release, podMonitorSelector: release, ruleSelector: release,
          // Rules (which set alert labels: team, kind, model) only from the monitoring namespace, which only
          // the platform writes: a PrometheusRule in a team's namespace cannot page another team or start a retraining.
          serviceMonitorNamespaceSelector: {}, podMonitorNamespaceSelector: {}, ruleNamespaceSelector: monitoringOnly,
          retention: '15d',
        } },
        alertmanager: { alertmanagerSpec: {
          // An AlertmanagerConfig of any namespace receives only the alerts labelled with its own namespace
          // (strategy OnNamespace: prometheus-operator adds a `namespace` matcher to its routes and inhibit
          // rules, and forces `continue` on its first route): a team routes its own endpoints' alerts and
          // cannot take another team's, page another team or start a retraining. The platform's routing over
          // every namespace is the global configuration (`alertmanagerConfiguration`), which MonitoringStack
          // sets when it writes that AlertmanagerConfig (Addons.setValue).
          alertmanagerConfigSelector: release, alertmanagerConfigNamespaceSelector: {},
          alertmanagerConfigMatcherStrategy: { type: 'OnNamespace' },
        } },
        grafana: {
          // No default admin password: kube-prometheus-stack sets 'prom-operator'; empty, the grafana chart
          // generates one (grafana.secretsData / grafana.password, kept across upgrades) in its Secret in `monitoring`.
          adminPassword: '',
          // A Role in `monitoring`, not a ClusterRole reading every namespace's Secrets and ConfigMaps; the
          // dashboard sidecar reads the platform's dashboards there (MonitoringStack writes them in `monitoring`).
          rbac: { namespaced: true },
          sidecar: { dashboards: { enabled: true, label: 'grafana_dashboard', labelValue: '1', searchNamespace: 'monitoring' } },
        },
      },
    });
  }

  /** KEDA: event-driven autoscaling on requests per second or consumer lag (ServingEndpoint). */
  public static keda(): Addon {
    return new Addon({ name: 'keda', namespace: 'keda', repository: 'https://kedacore.github.io/charts', chart: 'keda', version: '2.17.2' });
  }

  /**
   * The AWS Load Balancer Controller, for ALB ingresses (ServingEndpoint, CanaryRollout). The chart refuses to
   * render without `clusterName` (its deployment template `required`s it); `region` and `vpcId` spare the
   * controller the instance metadata, which pods cannot reach when nodes limit IMDSv2 to one hop. Its AWS
   * identity comes from `requireLoadBalancerController` (an EKS Pod Identity association for `kube-system/aws-load-balancer-controller`).
   */
  public static awsLoadBalancerController(props: {
    readonly clusterName: string;
    readonly region: string;
    readonly vpcId: string;
    /** The service account's annotations (the role ARN with IRSA; none with Pod Identity). */
    readonly serviceAccountAnnotations?: Record<string, string>;
  }): Addon {
    const annotations = props.serviceAccountAnnotations && Object.keys(props.serviceAccountAnnotations).length ? { annotations: props.serviceAccountAnnotations } : {};
    return new Addon({
      name: 'aws-load-balancer-controller', namespace: 'kube-system', repository: 'https://aws.github.io/eks-charts', chart: 'aws-load-balancer-controller', version: '1.13.3',
      values: { clusterName: props.clusterName, region: props.region, vpcId: props.vpcId, serviceAccount: { create: true, name: LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT, ...annotations } },
    });
  }

  /** ingress-nginx, for `nginx` ingresses (ServingEndpoint). */
  public static ingressNginx(): Addon {
    return new Addon({
      name: 'ingress-nginx', namespace: 'ingress-nginx', repository: 'https://kubernetes.github.io/ingress-nginx', chart: 'ingress-nginx', version: '4.12.3',
      values: { controller: { ingressClassResource: { name: 'nginx', default: false }, service: { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' } } } },
    });
  }

  /**
   * metrics-server: serves `metrics.k8s.io`, the resource metrics a HorizontalPodAutoscaler on CPU or memory
   * reads (ServingEndpoint with `Autoscaling.cpu`). Without it the HPA reports FailedGetResourceMetric and never scales.
   */
  public static metricsServer(): Addon {
    return new Addon({ name: 'metrics-server', namespace: 'kube-system', repository: 'https://kubernetes-sigs.github.io/metrics-server/', chart: 'metrics-server', version: '3.12.2' });
  }

  /** Istio's CRDs (`networking.istio.io`, `security.istio.io`, ...) and cluster roles: the `base` chart. */
  public static istioBase(): Addon {
    return new Addon({ name: 'istio-base', namespace: 'istio-system', repository: ISTIO_CHARTS, chart: 'base', version: ISTIO_VERSION, values: { defaultRevision: 'default' } });
  }

  /**
   * The Istio CNI node agent, which sets up each meshed pod's traffic redirection instead of the injected
   * `istio-init` container: that one needs NET_ADMIN and NET_RAW, which Pod Security `baseline` and `restricted`
   * refuse (istio.io "Install Istio with Pod Security Admission"). It runs in `kube-system`, which Pod Security
   * does not restrict, because it mounts host paths.
   */
  public static istioCni(): Addon {
    return new Addon({
      name: 'istio-cni', namespace: 'kube-system', repository: ISTIO_CHARTS, chart: 'cni', version: ISTIO_VERSION,
      values: { cni: { chained: true } }, dependsOn: ['istio-base'],
    });
  }

  /**
   * istiod, Istio's control plane: it injects sidecars into pods of namespaces labelled `istio-injection=enabled`
   * and programs them from VirtualServices (CanaryRollout with `TrafficRouting.istio()`). With the CNI agent, so
   * that meshed pods stay within Pod Security `restricted`.
   */
  public static istiod(): Addon {
    return new Addon({
      name: 'istiod', namespace: 'istio-system', repository: ISTIO_CHARTS, chart: 'istiod', version: ISTIO_VERSION,
      values: { cni: { enabled: true }, global: { proxy: { holdApplicationUntilProxyStarts: true } } },
      dependsOn: ['istio-base', 'istio-cni'],
    });
  }

  /** Karpenter, the node autoscaler alternative to managed node groups (GpuTrainingCluster). */
  public static karpenter(clusterName: string, interruptionQueue: string): Addon {
    return new Addon({
      name: 'karpenter', namespace: 'kube-system', repository: 'oci://public.ecr.aws/karpenter', chart: 'karpenter', version: '1.5.0',
      values: { settings: { clusterName, interruptionQueue }, serviceAccount: { name: 'karpenter' } },
    });
  }

  /** The Cluster Autoscaler, discovering the cluster's node groups by tag (GpuTrainingCluster). */
  public static clusterAutoscaler(clusterName: string, region: string): Addon {
    return new Addon({
      name: 'cluster-autoscaler', namespace: 'kube-system', repository: 'https://kubernetes.github.io/autoscaler', chart: 'cluster-autoscaler', version: '9.46.6',
      values: {
        autoDiscovery: { clusterName }, awsRegion: region,
        rbac: { serviceAccount: { create: true, name: 'cluster-autoscaler' } },
        extraArgs: { 'balance-similar-node-groups': true, 'skip-nodes-with-system-pods': false, expander: 'least-waste' },
      },
    });
  }

  /** The FSx for Lustre CSI driver, which mounts the shared dataset file system (GpuTrainingCluster). */
  public static fsxCsiDriver(): Addon {
    return new Addon({
      name: 'aws-fsx-csi-driver', namespace: 'kube-system', repository: 'https://kubernetes-sigs.github.io/aws-fsx-csi-driver', chart: 'aws-fsx-csi-driver', version: '1.11.0',
      values: { node: { tolerateAllTaints: true } },
    });
  }

  /** Any other chart, pinned. */
  public static custom(props: AddonProps): Addon {
    return new Addon(props);
  }

  private constructor(
    /** The release: chart, version, namespace and values. */
    public readonly props: AddonProps,
  ) {}

  /** The release name. */
  public get name(): string {
    return this.props.name;
  }
}

/** An add-on and the constructs that asked for it. */
export interface AddonRequirement {
  /** The add-on, with the chart values constructs set on it (`Addons.setValue`) merged into its own. */
  readonly addon: Addon;
  /** The constructs that need it, the first of which declares its namespace. */
  readonly requiredBy: IConstruct[];
}

/** A chart value one construct sets on an add-on the platform installs. */
interface AddonSetting {
  readonly value: unknown;
  readonly by: IConstruct;
  readonly reason: string;
}

interface AddonEntry {
  readonly base: Addon;
  readonly requiredBy: IConstruct[];
  readonly settings: Map<string, AddonSetting>;
}

const requirements = new WeakMap<PlatformApp, Map<string, AddonEntry>>();

/** The add-ons the constructs of a platform need. */
export class Addons {
  /**
   * Declares that `scope` needs `addon` in the cluster. Asking twice for the same add-on is one
   * install; asking for the same name at another version or with other values is an error.
   */
  public static require(scope: IConstruct, addon: Addon): void {
    const app = PlatformApp.of(scope);
    const map = requirements.get(app) ?? new Map<string, AddonEntry>();
    requirements.set(app, map);
    const existing = map.get(addon.name);
    if (existing && JSON.stringify(existing.base.props) !== JSON.stringify(addon.props)) {
      throw new Error(`'${scope.node.path}' needs add-on '${addon.name}' ${addon.props.chart}@${addon.props.version}, but '${existing.requiredBy[0].node.path}' needs ${existing.base.props.chart}@${existing.base.props.version} with other settings; a cluster runs one release of each add-on, so give both the same Addon.`);
    }
    if (existing) existing.requiredBy.push(scope);
    else map.set(addon.name, { base: addon, requiredBy: [scope], settings: new Map() });
    app.requireClusterWriter(scope, `add-on '${addon.name}' (${addon.props.chart}@${addon.props.version})`);
  }

  /**
   * Requires `addon` and sets one of its chart values (`path`, dotted, e.g.
   * `alertmanager.alertmanagerSpec.alertmanagerConfiguration`) for what `scope` creates: a value that
   * only makes sense beside an object of the construct (a global configuration the chart's controller
   * reads by name) is set by that construct, so a platform without it installs the chart without it.
   * Two constructs setting one path to different values, or a value the add-on itself sets otherwise,
   * is an error naming both.
   */
  public static setValue(scope: IConstruct, addon: Addon, path: string, value: unknown, reason: string): void {
    const own = valueAtPath(addon.props.values, path);
    if (own !== undefined && JSON.stringify(own) !== JSON.stringify(value)) {
      throw new Error(`'${scope.node.path}' sets chart value '${path}' of add-on '${addon.name}' to ${JSON.stringify(value)}, but the add-on sets it to ${JSON.stringify(own)}; use an Addon without that value.`);
    }
    Addons.require(scope, addon);
    const entry = requirements.get(PlatformApp.of(scope))!.get(addon.name)!;
    const set = entry.settings.get(path);
    if (set && JSON.stringify(set.value) !== JSON.stringify(value)) {
      throw new Error(`'${scope.node.path}' sets chart value '${path}' of add-on '${addon.name}' to ${JSON.stringify(value)}, but '${set.by.node.path}' sets it to ${JSON.stringify(set.value)} (${set.reason}); a cluster runs one release of each add-on, so only one of them can.`);
    }
    if (!set) entry.settings.set(path, { value, by: scope, reason });
  }

  /** Every add-on the platform's constructs need, by name, with the values they set merged in. */
  public static of(app: PlatformApp): AddonRequirement[] {
    return [...(requirements.get(app)?.values() ?? [])]
      .map((e) => ({ addon: withSettings(e), requiredBy: e.requiredBy }))
      .sort((a, b) => a.addon.name.localeCompare(b.addon.name));
  }
}

function valueAtPath(values: Record<string, unknown> | undefined, path: string): unknown {
  let at: unknown = values;
  for (const key of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function withSettings(entry: AddonEntry): Addon {
  if (entry.settings.size === 0) return entry.base;
  const values = JSON.parse(JSON.stringify(entry.base.props.values ?? {})) as Record<string, any>;
  for (const [path, setting] of [...entry.settings.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const keys = path.split('.');
    let at = values;
    for (const key of keys.slice(0, -1)) at = (at[key] ??= {});
    at[keys[keys.length - 1]] = setting.value;
  }
  return Addon.custom({ ...entry.base.props, values });
}
