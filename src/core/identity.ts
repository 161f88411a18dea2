import { EksPodIdentityAssociation, IamRole, IamRolePolicy } from '../providers/aws';
import type { IConstruct, ITerraformDependable } from '../engine';
import { Construct, TerraformStack } from '../engine';
import { check } from './errors';
import { PlatformApp } from './app';
import { NameRules } from './names';

/** What the library needs to know of an EKS cluster: where workloads run and how they reach AWS. */
export interface IEksCluster {
  /** The cluster's name (EKS Pod Identity associations name it). */
  readonly clusterName: string;
  /** The VPC the cluster runs in. */
  readonly vpcId: string;
  /** The VPC's CIDR block, for network policies and security group rules. */
  readonly vpcCidr: string;
  /** Private subnets in at least two availability zones, for databases and file systems. */
  readonly privateSubnetIds: string[];
  /** The security group of the cluster's nodes and pods; databases admit only it. */
  readonly workloadSecurityGroupId: string;
  /**
   * How workloads get AWS credentials.
   * @default IdentityMechanism.podIdentity()
   */
  readonly identityMechanism?: IdentityMechanism;
  /**
   * For a cluster created in the same Terraform stack: the cluster's name as a reference to the
   * cluster resource and what Pod Identity associations must wait for (the Pod Identity agent
   * add-on), so that `CreatePodIdentityAssociation` runs only after the cluster exists.
   * @default - none: associations name an existing cluster by its literal name
   */
  readonly podIdentityTarget?: PodIdentityTarget;
  /**
   * The node pools of a cluster the platform did not create: how to select each pool's nodes and what
   * they offer, so that GPU serving, the scheduling check and GPU monitoring work on it.
   * @default - none described (GPU serving on the cluster fails synth)
   */
  readonly nodePools?: ClusterNodePool[];
}

/** A node pool of an existing cluster, as its owner built it. */
export interface ClusterNodePool {
  /** The name a ServingEndpoint's `resources.pool` gives. */
  readonly name: string;
  /** Labels every node of the pool carries and that select only its nodes (the pods' nodeSelector). */
  readonly labels: Record<string, string>;
  /** The taints of its nodes (the pods tolerate them), e.g. `nvidia.com/gpu:NoSchedule`. @default - none */
  readonly taints?: Array<{ readonly key: string; readonly value?: string; readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }>;
  /** EC2 instance types of its nodes (GPUs, CPUs and memory come from them), e.g. `g5.2xlarge`. */
  readonly instanceTypes: string[];
  /**
   * On-demand or spot nodes.
   * @default 'ON_DEMAND'
   */
  readonly capacityType?: 'ON_DEMAND' | 'SPOT';
  /** The most nodes it may run. @default - unknown */
  readonly maxSize?: number;
}

const declaredPools = new WeakMap<PlatformApp, Map<string, { cluster: IEksCluster; pool: ClusterNodePool }>>();

/**
 * Records the pools of an existing cluster a construct of `app` runs on, for the platform check (its
 * scheduling rules read them beside the node groups and NodePools the platform declares).
 */
export function declareClusterPools(scope: IConstruct, cluster: IEksCluster): void {
  const app = PlatformApp.of(scope);
  const byName = declaredPools.get(app) ?? new Map();
  declaredPools.set(app, byName);
  const names = new Set<string>();
  (cluster.nodePools ?? []).forEach((pool, i) => {
    check(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(pool.name) && !names.has(pool.name), scope, `cluster.nodePools[${i}].name`, pool.name, 'must be a unique DNS label');
    names.add(pool.name);
    check(Object.keys(pool.labels).length > 0, scope, `cluster.nodePools[${i}].labels`, pool.labels, 'must name at least one label that selects only this pool\'s nodes');
    check(pool.instanceTypes.length > 0, scope, `cluster.nodePools[${i}].instanceTypes`, pool.instanceTypes, 'must name the pool\'s EC2 instance types');
    byName.set(`${cluster.clusterName}/${pool.name}`, { cluster, pool });
  });
}

/** The described pools of existing clusters of an app. */
export function declaredClusterPools(app: PlatformApp): Array<{ cluster: IEksCluster; pool: ClusterNodePool }> {
  return [...(declaredPools.get(app)?.values() ?? [])];
}

/** Where Pod Identity associations of a cluster created in the same stack point. */
export interface PodIdentityTarget {
  /** The Terraform stack the cluster is in; associations in other stacks use the literal name. */
  readonly stack: TerraformStack;
  /** The cluster's name as a reference to the cluster resource (`aws_eks_cluster.x.name`). */
  readonly clusterNameRef: string;
  /** Resources associations depend on (the Pod Identity agent add-on). */
  readonly dependsOn: ITerraformDependable[];
}

/** How a cluster's workloads assume their IAM roles. */
export class IdentityMechanism {
  /** EKS Pod Identity: an association per service account; no annotation on the service account. */
  public static podIdentity(): IdentityMechanism {
    return new IdentityMechanism();
  }

  /**
   * IAM roles for service accounts (IRSA), for clusters without the Pod Identity agent: roles trust
   * the cluster's OIDC provider for one `system:serviceaccount:<namespace>:<name>` each, and service
   * accounts carry the role ARN as an annotation.
   */
  public static irsa(props: { readonly oidcProviderArn: string; readonly issuer: string }): IdentityMechanism {
    return new IdentityMechanism(props);
  }

  private constructor(public readonly irsa?: { readonly oidcProviderArn: string; readonly issuer: string }) {}
}

/** Attributes of an EKS cluster created elsewhere. */
export type EksClusterAttributes = IEksCluster;

/** References to EKS clusters. */
export class EksCluster {
  /** An existing cluster, by its attributes (tokens from another stack are fine). */
  public static fromAttributes(attrs: EksClusterAttributes): IEksCluster {
    // An existing cluster: associations name it literally (it exists before this stack applies).
    return { ...attrs, privateSubnetIds: [...attrs.privateSubnetIds], podIdentityTarget: undefined, nodePools: attrs.nodePools?.map((p) => ({ ...p })) };
  }
}

/** One IAM policy statement. Actions are listed one by one: wildcards are refused. */
export interface PolicyStatement {
  readonly sid: string;
  readonly actions: string[];
  readonly resources: string[];
  readonly conditions?: Record<string, Record<string, string | string[]>>;
}

/** Something that can be granted permissions: an IAM role a workload runs as. */
export interface IGrantable {
  /** The IAM role permissions are attached to. */
  readonly grantRole: IamRole;
}

/**
 * Attaches `statements` to the grantee's role as one inline policy named `name`, created in the
 * grantee's scope. Granting the same name twice returns the first policy.
 */
export function grant(grantee: IGrantable & Construct, name: string, statements: PolicyStatement[]): IamRolePolicy {
  const id = `policy-${name}`;
  const existing = grantee.node.tryFindChild(id);
  if (existing) return existing as IamRolePolicy;
  for (const s of statements) {
    for (const action of s.actions) {
      check(!action.includes('*'), grantee, 'actions', action, 'must name one action; wildcard actions are not granted');
    }
  }
  return new IamRolePolicy(grantee, id, { name, role: grantee.grantRole.name, policy: policyDocument(statements) });
}

/** An IAM policy document (JSON; references to other resources stay Terraform interpolations inside the string). */
export function policyDocument(statements: PolicyStatement[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: statements.map((s) => ({
      Sid: s.sid,
      Effect: 'Allow',
      Action: s.actions,
      Resource: s.resources,
      ...(s.conditions ? { Condition: s.conditions } : {}),
    })),
  });
}

/** Props of a WorkloadIdentity. */
export interface WorkloadIdentityProps {
  /** The cluster the workload runs in. */
  readonly cluster: IEksCluster;
  /** The workload's namespace. */
  readonly namespace: string;
  /** The workload's Kubernetes service account. */
  readonly serviceAccount: string;
  /**
   * The IAM role name.
   * @default - `<platform>-<environment>-<namespace>-<serviceAccount>`
   */
  readonly roleName?: string;
}

/**
 * The AWS identity of one Kubernetes workload: an IAM role that only the EKS Pod Identity agent may
 * assume, bound by a Pod Identity association to one service account in one namespace (or, with
 * `IdentityMechanism.irsa`, that only that service account's OIDC token may assume). It starts
 * with no permissions; `grant...` methods of other constructs add exactly what the workload needs.
 */
export class WorkloadIdentity extends Construct implements IGrantable {
  public readonly grantRole: IamRole;
  /** The Pod Identity association (not with IRSA). */
  public readonly association?: EksPodIdentityAssociation;
  public readonly namespace: string;
  public readonly serviceAccount: string;
  /** What the workload's ServiceAccount must carry (the role ARN with IRSA; nothing with Pod Identity). */
  public readonly serviceAccountAnnotations: Record<string, string>;
  /** The role's name (known at synth; other stacks attach policies by it). */
  public readonly roleName: string;

  constructor(scope: Construct, id: string, props: WorkloadIdentityProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    this.namespace = NameRules.dnsLabel(this, 'namespace', props.namespace);
    this.serviceAccount = NameRules.dnsSubdomain(this, 'serviceAccount', props.serviceAccount);
    const roleName = NameRules.iamName(this, 'roleName', props.roleName ?? context.physicalName(props.namespace, props.serviceAccount));
    this.roleName = roleName;
    const irsa = props.cluster.identityMechanism?.irsa;
    const trust = irsa
      ? {
        Sid: 'IamRolesForServiceAccounts', Effect: 'Allow', Principal: { Federated: irsa.oidcProviderArn }, Action: ['sts:AssumeRoleWithWebIdentity'],
        Condition: { StringEquals: { [`${irsa.issuer}:sub`]: `system:serviceaccount:${this.namespace}:${this.serviceAccount}`, [`${irsa.issuer}:aud`]: 'sts.amazonaws.com' } },
      }
      : {
        Sid: 'EksPodIdentity', Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'],
        // EKS Pod Identity tags the session with the association's cluster, namespace and service account
        // (EKS User Guide, pod-id-role "Setting Conditions" and pod-id-abac session tags): only this workload
        // of this cluster may assume the role, even if another association in the account names it.
        Condition: {
          StringEquals: {
            'aws:SourceAccount': context.accountId,
            'aws:RequestTag/eks-cluster-name': props.cluster.clusterName,
            'aws:RequestTag/kubernetes-namespace': this.namespace,
            'aws:RequestTag/kubernetes-service-account': this.serviceAccount,
          },
        },
      };
    if (irsa) check(!/^https?:\/\//.test(irsa.issuer), this, 'cluster.identityMechanism.issuer', irsa.issuer, 'must be the issuer without https://, e.g. oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE');
    this.grantRole = new IamRole(this, 'role', {
      name: roleName,
      description: `Workload identity of ${props.namespace}/${props.serviceAccount} (${irsa ? 'IRSA' : 'EKS Pod Identity'})`,
      assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [trust] }),
      maxSessionDuration: 3600,
    });
    if (irsa) {
      // The ARN is built from the name: the manifest needs nothing from apply.
      this.serviceAccountAnnotations = { 'eks.amazonaws.com/role-arn': `arn:aws:iam::${context.accountId}:role/${roleName}` };
    } else {
      this.serviceAccountAnnotations = {};
      // A cluster of this stack is referenced, so that Terraform creates the association after the
      // cluster and its Pod Identity agent; an external cluster is named literally.
      const target = props.cluster.podIdentityTarget;
      const sameStack = target !== undefined && target.stack === TerraformStack.of(this);
      this.association = new EksPodIdentityAssociation(this, 'association', {
        clusterName: sameStack ? target.clusterNameRef : props.cluster.clusterName,
        dependsOn: sameStack ? target.dependsOn : undefined,
        namespace: this.namespace,
        serviceAccount: this.serviceAccount,
        roleArn: this.grantRole.arn,
      });
    }
  }
}
