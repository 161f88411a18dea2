// The platform check's knowledge of charts; no imports, so that the check can read it without loading the constructs.

/** What the platform check knows of a chart: what it provides and what it needs to work. */
export interface AddonCatalogEntry {
  /**
   * What the chart installs CRDs and a controller for: an API group (`keda.sh`) or one kind of a group
   * (`argoproj.io/Rollout`, where several charts share a group).
   * @default - nothing
   */
  readonly provides?: string[];
  /** Charts that must be installed too for `provides` to work (Istio: CRDs in `base`, controller in `istiod`). @default - none */
  readonly with?: string[];
  /** Ingress classes (`spec.ingressClassName`) and IngressClass controllers (`spec.controller`) it serves. @default - none */
  readonly ingressClasses?: string[];
  /** Whether it serves `metrics.k8s.io` (resource metrics for HPAs). @default false */
  readonly resourceMetrics?: boolean;
  /**
   * Values the chart or its controller cannot work without: each entry is a value path, or alternatives separated
   * by `|`, with the upstream rule and what breaks.
   * @default - none
   */
  readonly requiredValues?: Array<{ readonly path: string; readonly rule: string }>;
  /**
   * Values that name an object the chart's controller reads from the release's namespace, and what happens
   * when it is missing: the platform check finds it among the manifests.
   */
  readonly namedObjects?: Array<{ readonly path: string; readonly kind: string; readonly rule: string }>;
  /**
   * The controller calls AWS APIs: the service account (a value path and the chart's default) that needs
   * an IAM role, by an EKS Pod Identity association or an IRSA annotation.
   * @default - it calls no AWS API
   */
  readonly awsIdentity?: { readonly serviceAccountValue: string; readonly defaultServiceAccount: string; readonly rule: string };
}

/**
 * The charts the platform check knows, by chart name: the API groups and ingress classes each serves, the
 * values each refuses to render without and the AWS identity each needs. A manifest of a group no
 * installed chart provides, or an add-on without its required values or identity, is a finding.
 */
export const ADDON_CATALOG: Record<string, AddonCatalogEntry> = {
  'argo-rollouts': { provides: ['argoproj.io/Rollout', 'argoproj.io/AnalysisTemplate', 'argoproj.io/ClusterAnalysisTemplate', 'argoproj.io/AnalysisRun', 'argoproj.io/Experiment'] },
  'argo-workflows': { provides: ['argoproj.io/Workflow', 'argoproj.io/WorkflowTemplate', 'argoproj.io/ClusterWorkflowTemplate', 'argoproj.io/CronWorkflow', 'argoproj.io/WorkflowEventBinding', 'argoproj.io/WorkflowTaskSet', 'argoproj.io/WorkflowTaskResult', 'argoproj.io/WorkflowArtifactGCTask'] },
  'argo-cd': { provides: ['argoproj.io/Application', 'argoproj.io/ApplicationSet', 'argoproj.io/AppProject'] },
  'kube-prometheus-stack': {
    provides: ['monitoring.coreos.com'],
    namedObjects: [{
      path: 'alertmanager.alertmanagerSpec.alertmanagerConfiguration.name', kind: 'AlertmanagerConfig',
      rule: 'prometheus-operator pkg/alertmanager/operator.go provisionAlertmanagerConfiguration reads the global AlertmanagerConfig from the Alertmanager\'s namespace and, without it, fails ("failed to get global AlertmanagerConfig"): no configuration is generated and no alert is routed',
    }],
  },
  'keda': { provides: ['keda.sh', 'eventing.keda.sh'] },
  'aws-load-balancer-controller': {
    provides: ['elbv2.k8s.aws'], ingressClasses: ['alb', 'ingress.k8s.aws/alb'],
    requiredValues: [{ path: 'clusterName', rule: 'templates/deployment.yaml: required "Chart cannot be installed without a valid clusterName!", so the atomic release fails terraform apply' }],
    awsIdentity: { serviceAccountValue: 'serviceAccount.name', defaultServiceAccount: 'aws-load-balancer-controller', rule: 'it creates and tags load balancers and target groups (docs/install/iam_policy.json)' },
  },
  'ingress-nginx': { ingressClasses: ['nginx', 'k8s.io/ingress-nginx'] },
  'karpenter': {
    provides: ['karpenter.sh', 'karpenter.k8s.aws'],
    requiredValues: [{ path: 'settings.clusterName', rule: 'the controller\'s options validation refuses to start without a cluster name ("missing field, cluster-name"), so the atomic release fails' }],
    awsIdentity: { serviceAccountValue: 'serviceAccount.name', defaultServiceAccount: 'karpenter', rule: 'it launches and terminates EC2 instances' },
  },
  'cluster-autoscaler': {
    requiredValues: [{ path: 'autoDiscovery.clusterName|autoscalingGroups', rule: 'with cloudProvider aws it manages only the Auto Scaling groups it discovers by cluster tag or is given, so with neither it scales nothing' }],
    awsIdentity: { serviceAccountValue: 'rbac.serviceAccount.name', defaultServiceAccount: 'cluster-autoscaler-aws-cluster-autoscaler', rule: 'it resizes Auto Scaling groups' },
  },
  'external-dns': { awsIdentity: { serviceAccountValue: 'serviceAccount.name', defaultServiceAccount: 'external-dns', rule: 'it writes Route 53 records' } },
  'metrics-server': { provides: ['metrics.k8s.io'], resourceMetrics: true },
  'base': { provides: ['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'extensions.istio.io'], with: ['istiod'] },
  'istiod': { provides: ['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'extensions.istio.io'], with: ['base'] },
  'cni': {},
  'gateway-helm': { provides: ['gateway.networking.k8s.io', 'gateway.envoyproxy.io'] },
  'cert-manager': { provides: ['cert-manager.io', 'acme.cert-manager.io'] },
  'external-secrets': { provides: ['external-secrets.io', 'generators.external-secrets.io'] },
  // Static provisioning only: the node plugin mounts file systems by their handle and calls no AWS API.
  'aws-fsx-csi-driver': {},
};

/** API groups the API server serves itself. */
export const BUILT_IN_API_GROUPS = [
  '', 'apps', 'batch', 'autoscaling', 'policy', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'scheduling.k8s.io', 'storage.k8s.io',
  'coordination.k8s.io', 'discovery.k8s.io', 'node.k8s.io', 'admissionregistration.k8s.io', 'apiextensions.k8s.io', 'apiregistration.k8s.io',
  'certificates.k8s.io', 'flowcontrol.apiserver.k8s.io', 'events.k8s.io', 'resource.k8s.io', 'authentication.k8s.io', 'authorization.k8s.io',
];
