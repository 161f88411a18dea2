import { DataAwsEksCluster, DataAwsSecretsmanagerSecretVersion } from '../providers/aws';
import { HelmProvider, Release } from '../providers/helm';
import { ConfigMapV1, KubernetesProvider, Manifest, NamespaceV1, PersistentVolumeV1, SecretV1 } from '../providers/kubernetes';
import type { IConstruct, ITerraformDependable } from '../engine';
import { Construct, Fn } from '../engine';
import { BUILT_IN_NAMESPACES } from '../check/model';
import { Addons } from './addons';
import { check } from './errors';
import { PlatformApp } from './app';
import { NameRules } from './names';
import { PlatformNamespaces } from './namespaces';
import { PlatformStack, PlatformStackProps } from './stack';

/** A value Terraform writes into the cluster. */
export abstract class ClusterValue {
  /** A value Terraform knows, such as a database endpoint or a bucket name (a token is fine). */
  public static of(value: string): ClusterValue {
    return new (class extends ClusterValue {
      public render(): string {
        return value;
      }
    })();
  }

  /**
   * One key of a JSON secret in AWS Secrets Manager, read by Terraform when it applies. The value is
   * a copy, in Terraform's state and in the cluster: not for a secret that rotates (an RDS-managed
   * master password, rotated every 7 days, goes stale in the copy), which its workload should read
   * itself when it runs (as the registry's database bootstrap does) or replace with short-lived
   * credentials (IAM database authentication).
   */
  public static fromSecretsManager(secretArn: string, jsonKey: string): ClusterValue {
    return new (class extends ClusterValue {
      public render(stack: KubernetesStack): string {
        const data = stack.secretsManagerSecret(secretArn);
        return Fn.lookup(Fn.jsondecode(data.secretString), jsonKey, '');
      }
    })();
  }

  /** @internal */
  public abstract render(stack: KubernetesStack): string;
}

/** A Secret or ConfigMap that Terraform writes into the cluster for the manifests to read by name. */
export interface ClusterObjectProps {
  /** The object's namespace. */
  readonly namespace: string;
  /** The object's name; manifests refer to it by this name. */
  readonly name: string;
  /** The keys and their values. */
  readonly data: Record<string, ClusterValue>;
}

interface ClusterObject extends ClusterObjectProps {
  readonly kind: 'Secret' | 'ConfigMap';
  readonly owner: IConstruct;
}

/**
 * A PersistentVolume backed by a CSI driver, for storage whose handle exists only after apply (an
 * FSx or EFS file system id); the manifests bind to it by name (`volumeName`).
 */
export interface ClusterPersistentVolumeProps {
  /** The volume's name; a PersistentVolumeClaim binds to it with `volumeName`. */
  readonly name: string;
  /** Its capacity, e.g. `1200Gi`. */
  readonly capacity: string;
  /** The CSI driver, e.g. `fsx.csi.aws.com`. */
  readonly driver: string;
  /** The driver's volume handle (a token is fine). */
  readonly volumeHandle: string;
  /** @default - none */
  readonly volumeAttributes?: Record<string, string>;
  /** @default - none */
  readonly mountOptions?: string[];
}

const clusterObjects = new WeakMap<PlatformApp, ClusterObject[]>();
const clusterVolumes = new WeakMap<PlatformApp, ClusterPersistentVolumeProps[]>();

/**
 * Values that exist only after `terraform apply` (database endpoints, generated passwords) reach the
 * cluster as Secrets and ConfigMaps that a `KubernetesStack` writes; the manifests refer to them by
 * their deterministic names.
 */
export class ClusterValues {
  /** Asks the platform's KubernetesStack to write a Secret. */
  public static secret(owner: IConstruct, props: ClusterObjectProps): void {
    ClusterValues.add(owner, { ...props, kind: 'Secret', owner });
  }

  /** Asks the platform's KubernetesStack to write a ConfigMap. */
  public static configMap(owner: IConstruct, props: ClusterObjectProps): void {
    ClusterValues.add(owner, { ...props, kind: 'ConfigMap', owner });
  }

  /** Asks the platform's KubernetesStack to write a PersistentVolume (retained when released). */
  public static persistentVolume(owner: IConstruct, props: ClusterPersistentVolumeProps): void {
    NameRules.dnsSubdomain(owner, 'name', props.name);
    const app = PlatformApp.of(owner);
    const list = clusterVolumes.get(app) ?? [];
    if (list.some((v) => v.name === props.name)) {
      throw new Error(`'${owner.node.path}' writes PersistentVolume '${props.name}', which is written already; give it another name.`);
    }
    list.push(props);
    clusterVolumes.set(app, list);
    app.requireClusterWriter(owner, `PersistentVolume '${props.name}'`);
  }

  /** @internal */
  public static volumesOf(app: PlatformApp): ClusterPersistentVolumeProps[] {
    return clusterVolumes.get(app) ?? [];
  }

  private static add(owner: IConstruct, object: ClusterObject): void {
    NameRules.dnsLabel(owner, 'namespace', object.namespace);
    NameRules.dnsSubdomain(owner, 'name', object.name);
    const app = PlatformApp.of(owner);
    const list = clusterObjects.get(app) ?? [];
    const clash = list.find((o) => o.kind === object.kind && o.namespace === object.namespace && o.name === object.name);
    if (clash) {
      throw new Error(`'${owner.node.path}' writes ${object.kind} '${object.namespace}/${object.name}', which '${clash.owner.node.path}' writes already; give one of them another name.`);
    }
    list.push(object);
    app.requireClusterWriter(owner, `${object.kind} '${object.namespace}/${object.name}'`);
    clusterObjects.set(app, list);
  }

  /** @internal */
  public static of(app: PlatformApp): ClusterObject[] {
    return clusterObjects.get(app) ?? [];
  }
}

/**
 * Where `cdktf deploy` of the KubernetesStack runs: the kubernetes and helm providers call the cluster's
 * API endpoint from there, so a private-only endpoint needs a machine inside the VPC (or a peered
 * network, a VPN, AWS CodeBuild in the VPC), and a public endpoint an address on its allow-list.
 */
export abstract class DeployLocation {
  /** A runner inside the cluster's VPC or a network routed to it (say which, for reviewers). */
  public static insideVpc(description: string): DeployLocation {
    return new (class extends DeployLocation {
      public readonly insideVpc = true;
      public readonly cidrs: string[] = [];
      public readonly description = description;
    })();
  }

  /** A runner outside the VPC, calling from these public addresses (the endpoint's allow-list must hold them). */
  public static publicAddresses(cidrs: string[]): DeployLocation {
    return new (class extends DeployLocation {
      public readonly insideVpc = false;
      public readonly cidrs = cidrs;
      public readonly description = cidrs.join(', ');
    })();
  }

  /** Whether the runner reaches the private endpoint. */
  public abstract readonly insideVpc: boolean;
  /** The runner's public addresses (outside the VPC). */
  public abstract readonly cidrs: string[];
  /** For reviewers. */
  public abstract readonly description: string;
}

/** Who deploys the KubernetesStack, and from where. */
export interface ClusterDeployer {
  /** The IAM role `aws eks get-token --role-arn` authenticates as: one of the cluster's admin roles (access entries). */
  readonly roleArn: string;
  /** Where the deploy runs. */
  readonly location: DeployLocation;
}

/** What the KubernetesStack checks a deployer against: the cluster's endpoint access and its admin access entries. */
export interface ClusterAccess {
  /** The construct path, for messages. */
  readonly node: { readonly path: string };
  /** Public CIDR blocks allowed to reach the API endpoint; empty for a private-only endpoint. */
  readonly endpointPublicCidrs: string[];
  /** The roles with cluster-admin access entries (the only principals that can authenticate). */
  readonly adminRoleArns: string[];
}

function ipv4Range(cidr: string): [number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) return undefined;
  const base = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(m[5]));
  const start = base - (base % size);
  return [start, start + size - 1];
}

/** Props of a KubernetesStack. */
export interface KubernetesStackProps extends PlatformStackProps {
  /** The name of the EKS cluster to write into (a token from the cluster's stack is fine). */
  readonly clusterName: string;
  /**
   * Install the add-ons the platform's constructs need, with `helm_release`.
   * @default true
   */
  readonly installAddons?: boolean;
  /**
   * Also apply every chart's objects with `kubernetes_manifest`, instead of (or beside) a GitOps tool
   * reading `k8s.out`. Needs the cluster and the add-ons' CRDs to exist at plan time.
   * @default false
   */
  readonly applyManifests?: boolean;
  /**
   * The cluster, when the platform creates it (a GpuTrainingCluster): the deployer is checked against its
   * endpoint access and admin roles.
   * @default - an existing cluster: nothing to check the deployer against
   */
  readonly cluster?: ClusterAccess;
  /**
   * Who runs `cdktf deploy` of this stack and from where. The providers authenticate with
   * `aws eks get-token --role-arn <roleArn>`. Required with `cluster`.
   * @default - the caller's own AWS credentials, wherever it runs
   */
  readonly deployer?: ClusterDeployer;
}

/**
 * The Terraform stack that writes into a cluster: the pinned add-ons the constructs need (one
 * `helm_release` each), the Secrets and ConfigMaps that carry deploy-time values to the manifests,
 * and optionally the manifests themselves. It runs after the stacks that create the cluster and the
 * AWS resources it reads, and is the only stack that needs the kubernetes and helm providers.
 */
export class KubernetesStack extends PlatformStack {
  /** The cluster this stack writes into. */
  public readonly cluster: DataAwsEksCluster;
  private readonly secretVersions = new Map<string, DataAwsSecretsmanagerSecretVersion>();
  private readonly namespaces = new Map<string, NamespaceV1>();

  constructor(scope: Construct, id: string, props: KubernetesStackProps) {
    super(scope, id, props);
    const app = PlatformApp.of(this);
    app.registerClusterWriter(this);
    NameRules.eksClusterName(this, 'clusterName', props.clusterName);
    this.cluster = new DataAwsEksCluster(this, 'cluster', { name: props.clusterName });
    const connection = {
      host: this.cluster.endpoint,
      clusterCaCertificate: Fn.base64decode(this.cluster.certificateAuthority.get(0).data),
    };
    if (props.cluster) this.checkDeployer(props.cluster, props.deployer);
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: 'aws',
      args: ['eks', 'get-token', '--cluster-name', props.clusterName, '--region', app.context.region, ...(props.deployer ? ['--role-arn', props.deployer.roleArn] : [])],
    };
    new KubernetesProvider(this, 'kubernetes', { ...connection, exec: [exec] });
    new HelmProvider(this, 'helm', { kubernetes: { ...connection, exec } });

    app.addSynthHook({
      beforeSynth: () => {
        if (props.installAddons ?? true) this.installAddons();
        this.writeClusterValues();
        this.labelNamespaces();
        // Every namespace Terraform does not create goes into the cluster manifest, before any manifest is read.
        PlatformNamespaces.writeClusterNamespaces(app);
        if (props.applyManifests) this.applyManifests();
      },
    });
  }

  /**
   * The providers reach the API endpoint from the deployer's location and authenticate as its role: both
   * must be allowed by the cluster (EKS cluster endpoint access control; access entries, since the
   * cluster grants its creator nothing).
   */
  private checkDeployer(cluster: ClusterAccess, deployer?: ClusterDeployer): void {
    check(deployer !== undefined, this, 'deployer', deployer,
      `must say who deploys this stack and from where (its providers call the API endpoint of cluster '${cluster.node.path}'): { roleArn: one of its adminRoleArns, location: DeployLocation.insideVpc(...) or .publicAddresses([...]) }`);
    check(cluster.adminRoleArns.includes(deployer!.roleArn), this, 'deployer.roleArn', deployer!.roleArn,
      `cannot authenticate to cluster '${cluster.node.path}': only its adminRoleArns have access entries (${cluster.adminRoleArns.join(', ') || 'none'})`);
    const location = deployer!.location;
    if (location.insideVpc) return;
    check(cluster.endpointPublicCidrs.length > 0, this, 'deployer.location', location.description,
      `cannot reach the private-only API endpoint of cluster '${cluster.node.path}': deploy from inside its VPC (DeployLocation.insideVpc), or allow these addresses with EndpointAccess.publicAndPrivate`);
    for (const cidr of location.cidrs) {
      const range = ipv4Range(cidr);
      check(range !== undefined, this, 'deployer.location', cidr, 'must be IPv4 CIDR blocks');
      const allowed = cluster.endpointPublicCidrs.map(ipv4Range).some((r) => r !== undefined && r[0] <= range![0] && range![1] <= r[1]);
      check(allowed, this, 'deployer.location', cidr, `is not on the public allow-list of cluster '${cluster.node.path}' (${cluster.endpointPublicCidrs.join(', ')})`);
    }
  }

  /**
   * The namespace resource this stack manages, created on first use. Terraform creates the namespaces
   * it writes into (Secrets, ConfigMaps, Helm releases), with the Pod Security labels of the level the
   * constructs declare for it (`PlatformNamespaces.use`); the cluster manifest then leaves them out.
   */
  public namespace(name: string): NamespaceV1 {
    if (BUILT_IN_NAMESPACES.includes(name)) {
      throw new Error(`'${this.node.path}': namespace '${name}' exists in every cluster; Terraform does not create it.`);
    }
    let ns = this.namespaces.get(name);
    if (!ns) {
      ns = new NamespaceV1(this, `namespace-${name}`, { metadata: { name } });
      this.namespaces.set(name, ns);
    }
    return ns;
  }

  /** The name of a namespace to write into, as a reference to the namespace resource when this stack creates it. */
  private namespaceName(name: string): string {
    return BUILT_IN_NAMESPACES.includes(name) ? name : this.namespace(name).metadata.name;
  }

  /** Claims the namespaces this stack creates and gives them their labels, once every construct has declared its use. */
  private labelNamespaces(): void {
    const app = PlatformApp.of(this);
    for (const [name, ns] of this.namespaces) {
      if (!PlatformNamespaces.of(app).some((d) => d.name === name)) PlatformNamespaces.use(this, name);
      const declared = PlatformNamespaces.createdByTerraform(this, name);
      ns.putMetadata({ name, labels: { ...app.context.baseTags, ...PlatformNamespaces.labelsOf(declared) } });
    }
  }

  /** @internal */
  public secretsManagerSecret(secretArn: string): DataAwsSecretsmanagerSecretVersion {
    let data = this.secretVersions.get(secretArn);
    if (!data) {
      data = new DataAwsSecretsmanagerSecretVersion(this, `secret-${this.secretVersions.size}`, { secretId: secretArn });
      this.secretVersions.set(secretArn, data);
    }
    return data;
  }

  private installAddons(): void {
    const requirements = Addons.of(PlatformApp.of(this));
    const addons = requirements.map((r) => r.addon);
    const releases = new Map<string, Release>();
    const install = (addon: (typeof addons)[number], path: string[]): Release => {
      const p = addon.props;
      const done = releases.get(p.name);
      if (done) return done;
      if (path.includes(p.name)) throw new Error(`'${this.node.path}': add-ons depend on each other in a cycle: ${[...path, p.name].join(' -> ')}.`);
      // What an add-on depends on is installed first (CRDs before the controllers that watch them).
      const dependsOn = (p.dependsOn ?? []).map((name) => {
        const dep = addons.find((a) => a.name === name);
        if (!dep) throw new Error(`'${this.node.path}': add-on '${p.name}' needs add-on '${name}' installed first, but no construct requires it; require both.`);
        return install(dep, [...path, p.name]);
      });
      const builtIn = BUILT_IN_NAMESPACES.includes(p.namespace);
      // The release's namespace is Terraform's, labelled for the chart's Pod Security level; Helm does not create it.
      if (!builtIn) {
        const requiredBy = requirements.find((r) => r.addon === addon)!.requiredBy;
        PlatformNamespaces.use(requiredBy[0], p.namespace, { podSecurity: p.podSecurity, reason: p.podSecurityReason });
      }
      const release = new Release(this, `addon-${p.name}`, {
        name: p.name,
        namespace: builtIn ? p.namespace : this.namespace(p.namespace).metadata.name,
        createNamespace: false,
        repository: p.repository,
        chart: p.chart,
        version: p.version,
        atomic: true,
        values: p.values ? [JSON.stringify(p.values)] : undefined,
        dependsOn: dependsOn.length ? dependsOn : undefined,
      });
      releases.set(p.name, release);
      return release;
    };
    for (const addon of addons) install(addon, []);
  }

  private writeClusterValues(): void {
    for (const o of ClusterValues.of(PlatformApp.of(this))) {
      const data: Record<string, string> = {};
      for (const [key, value] of Object.entries(o.data)) data[key] = value.render(this);
      const metadata = { name: o.name, namespace: this.namespaceName(o.namespace) };
      const id = `${o.kind.toLowerCase()}-${o.namespace}-${o.name}`;
      if (o.kind === 'Secret') new SecretV1(this, id, { metadata, data, type: 'Opaque' });
      else new ConfigMapV1(this, id, { metadata, data });
    }
    for (const v of ClusterValues.volumesOf(PlatformApp.of(this))) {
      new PersistentVolumeV1(this, `volume-${v.name}`, {
        metadata: { name: v.name },
        spec: [{
          capacity: { storage: v.capacity },
          accessModes: ['ReadWriteMany'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          mountOptions: v.mountOptions,
          persistentVolumeSource: { csi: { driver: v.driver, volumeHandle: v.volumeHandle, volumeAttributes: v.volumeAttributes } },
        }],
      });
    }
  }

  private applyManifests(): void {
    const app = PlatformApp.of(this);
    // An object waits for its namespace, whether this stack or the cluster manifest creates it.
    const namespaces = new Map<string, ITerraformDependable>(this.namespaces);
    const entries = Object.entries(app.manifests()).flatMap(([file, docs]) => docs.map((doc) => ({ file, doc })));
    const ordered = [...entries.filter((e) => e.doc.kind === 'Namespace'), ...entries.filter((e) => e.doc.kind !== 'Namespace')];
    for (const { file, doc } of ordered) {
      if (doc.kind === 'Namespace' && this.namespaces.has(doc.metadata.name)) continue;
      const id = `manifest-${file.replace(/\.k8s\.yaml$/, '').replace(/[^a-zA-Z0-9-]/g, '-')}-${doc.kind}-${doc.metadata.namespace ?? 'cluster'}-${doc.metadata.name}`;
      const ns = doc.metadata.namespace ? namespaces.get(doc.metadata.namespace) : undefined;
      const manifest = new Manifest(this, id, { manifest: doc, dependsOn: ns ? [ns] : undefined });
      if (doc.kind === 'Namespace') namespaces.set(doc.metadata.name, manifest);
    }
  }
}
