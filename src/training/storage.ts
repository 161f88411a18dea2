import { EfsAccessPoint, EfsBackupPolicy, EfsFileSystem, EfsMountTarget, EksAddon, FsxDataRepositoryAssociation, FsxLustreFileSystem, SecurityGroup, VpcSecurityGroupEgressRule, VpcSecurityGroupIngressRule } from '../providers/aws';
import { Construct } from '../engine';
import { Addon, Addons } from '../core/addons';
import { PlatformApp } from '../core/app';
import { check } from '../core/errors';
import { PlatformKey } from '../core/key';
import { ClusterValues } from '../core/kubernetes-stack';
import { BucketEncryption, SecureBucket } from '../core/secure-bucket';
import { SharedStorage } from './options';

/** The claim name every team namespace has for the shared storage. */
export const SHARED_STORAGE_CLAIM = 'shared-datasets';
/** FSx for Lustre links at most this many data repository associations to one file system. */
const MAX_DATA_REPOSITORY_ASSOCIATIONS = 8;

/** The directory of the file system a team's volume sees (and nothing above it). */
export function teamDirectory(team: string): string {
  return `/teams/${team}`;
}

/** Where jobs mount the shared storage. */
export const SHARED_STORAGE_MOUNT = '/mnt/shared';

interface ClusterLike extends Construct {
  readonly clusterName: string;
  readonly vpcId: string;
  readonly privateSubnetIds: string[];
  readonly workloadSecurityGroupId: string;
  readonly cluster: { readonly name: string };
}

/** The name of the FSx dataset bucket (known before the cluster's key, whose policy names it). */
export function datasetBucketName(storage: SharedStorage, clusterName: string, accountId: string): string {
  return storage.fsx?.datasetBucketName ?? `${clusterName}-datasets-${accountId}`;
}

/** Props of SharedDatasetStorage. */
export interface SharedDatasetStorageProps {
  readonly storage: SharedStorage;
  readonly cluster: ClusterLike;
  readonly key: PlatformKey;
  /**
   * The team namespaces that mount it: one PersistentVolume each, which sees only the team's own
   * directory `/teams/<team>` (FSx for Lustre: a subdirectory mount, linked to the bucket prefix
   * `<team>/`; EFS: an access point rooted there).
   */
  readonly teams: string[];
}

/**
 * Shared storage for datasets and checkpoints: FSx for Lustre linked to a dataset bucket, or EFS;
 * encrypted, backed up, admitting only the cluster's workloads, `prevent_destroy`. Each team
 * namespace gets a PersistentVolume (written by the KubernetesStack, since the file system id exists
 * only after apply) that its `shared-datasets` claim binds to by name, and that sees only the team's
 * own directory `/teams/<team>`: one team cannot read or overwrite another's datasets and checkpoints.
 */
export class SharedDatasetStorage extends Construct {
  public readonly kind: SharedStorage['kind'];
  public readonly securityGroup: SecurityGroup;
  public readonly lustre?: FsxLustreFileSystem;
  public readonly efs?: EfsFileSystem;
  public readonly datasetBucket?: SecureBucket;
  /** The capacity the PersistentVolumes advertise. */
  public readonly capacity: string;

  constructor(scope: Construct, id: string, props: SharedDatasetStorageProps) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    const cluster = props.cluster;
    this.kind = props.storage.kind;
    // Rules are separate resources only: inline rules next to them make a perpetual diff (the aws
    // provider's aws_security_group docs). Terraform removes the default allow-all egress rule.
    this.securityGroup = new SecurityGroup(this, 'security-group', {
      name: `${cluster.clusterName}-shared-storage`, description: 'Shared dataset storage: only the cluster workloads', vpcId: cluster.vpcId,
      revokeRulesOnDelete: true,
    });
    const rules: Array<VpcSecurityGroupIngressRule | VpcSecurityGroupEgressRule> = [];
    const ports: Array<[number, number]> = this.kind === 'fsx-lustre' ? [[988, 988], [1018, 1023]] : [[2049, 2049]];
    ports.forEach(([from, to], i) => {
      rules.push(new VpcSecurityGroupIngressRule(this, `from-cluster-${i}`, {
        securityGroupId: this.securityGroup.id, referencedSecurityGroupId: cluster.workloadSecurityGroupId, ipProtocol: 'tcp', fromPort: from, toPort: to,
        description: 'File system clients in the cluster',
      }));
      if (this.kind === 'fsx-lustre') {
        // Lustre servers talk to each other on the same ports.
        rules.push(new VpcSecurityGroupIngressRule(this, `from-self-${i}`, { securityGroupId: this.securityGroup.id, referencedSecurityGroupId: this.securityGroup.id, ipProtocol: 'tcp', fromPort: from, toPort: to }));
        rules.push(new VpcSecurityGroupEgressRule(this, `to-self-${i}`, { securityGroupId: this.securityGroup.id, referencedSecurityGroupId: this.securityGroup.id, ipProtocol: 'tcp', fromPort: from, toPort: to }));
      }
    });

    let driver: string;
    let volumeOf: (team: string) => { volumeHandle: string; volumeAttributes?: Record<string, string> };
    let mountOptions: string[] | undefined;
    if (props.storage.kind === 'fsx-lustre') {
      const o = props.storage.fsx ?? {};
      const capacity = o.storageCapacityGiB ?? 1200;
      check(capacity === 1200 || (Number.isInteger(capacity) && capacity % 2400 === 0 && capacity > 0), scope, 'sharedStorage.storageCapacityGiB', capacity,
        'must be 1200 or a multiple of 2400 (FSx for Lustre PERSISTENT_2)');
      this.datasetBucket = new SecureBucket(this, 'datasets', {
        bucketName: datasetBucketName(props.storage, cluster.clusterName, context.accountId),
        bucketNameProp: 'sharedStorage.datasetBucketName',
        encryption: BucketEncryption.kms(props.key.key),
      });
      this.lustre = new FsxLustreFileSystem(this, 'lustre', {
        storageCapacity: capacity,
        deploymentType: 'PERSISTENT_2',
        perUnitStorageThroughput: o.throughputPerTiB ?? 125,
        subnetIds: [cluster.privateSubnetIds[0]],
        securityGroupIds: [this.securityGroup.id],
        kmsKeyId: props.key.keyArn,
        dataCompressionType: 'LZ4',
        fileSystemTypeVersion: '2.15',
        automaticBackupRetentionDays: 7,
        copyTagsToBackups: true,
        skipFinalBackup: PlatformApp.of(this).context.environment.destroyable,
        lifecycle: { preventDestroy: !PlatformApp.of(this).context.environment.destroyable },
        // FSx checks that its servers reach each other on port 988 at creation: the rules first.
        dependsOn: rules,
      });
      // Each team sees only its own directory, `/teams/<team>`, linked to its own prefix of the
      // dataset bucket: the association creates the directory the team's volume mounts (FSx for
      // Lustre mounts a subdirectory as `<dnsname>@tcp:/<mountname>/<path>`).
      check(props.teams.length <= MAX_DATA_REPOSITORY_ASSOCIATIONS, scope, 'teams', props.teams.map((t) => t),
        `are ${props.teams.length}; FSx for Lustre links at most ${MAX_DATA_REPOSITORY_ASSOCIATIONS} data repository associations (one per team directory) to a file system`);
      const links = props.teams.length ? props.teams.map((team) => ({ id: `dataset-link-${team}`, fs: teamDirectory(team), s3: `s3://${this.datasetBucket!.bucketName}/${team}/` }))
        : [{ id: 'dataset-link', fs: '/datasets', s3: `s3://${this.datasetBucket.bucketName}` }];
      for (const link of links) {
        new FsxDataRepositoryAssociation(this, link.id, {
          fileSystemId: this.lustre.id,
          dataRepositoryPath: link.s3,
          fileSystemPath: link.fs,
          batchImportMetaDataOnCreate: true,
          deleteDataInFilesystem: false,
          s3: { autoImportPolicy: { events: ['NEW', 'CHANGED', 'DELETED'] }, autoExportPolicy: { events: ['NEW', 'CHANGED', 'DELETED'] } },
        });
      }
      this.capacity = `${capacity}Gi`;
      driver = 'fsx.csi.aws.com';
      const lustre = this.lustre;
      volumeOf = (team) => ({
        volumeHandle: `${lustre.id}:${teamDirectory(team)}`,
        volumeAttributes: { dnsname: lustre.dnsName, mountname: `${lustre.mountName}${teamDirectory(team)}` },
      });
      mountOptions = ['flock'];
      Addons.require(this, Addon.fsxCsiDriver());
    } else {
      this.efs = new EfsFileSystem(this, 'efs', {
        encrypted: true, kmsKeyId: props.key.keyArn, performanceMode: 'generalPurpose', throughputMode: 'elastic',
        lifecycle: { preventDestroy: !PlatformApp.of(this).context.environment.destroyable }, tags: { Name: `${cluster.clusterName}-shared` },
      });
      new EfsBackupPolicy(this, 'backups', { fileSystemId: this.efs.id, backupPolicy: { status: 'ENABLED' } });
      cluster.privateSubnetIds.forEach((subnetId, i) => {
        new EfsMountTarget(this, `mount-target-${i}`, { fileSystemId: this.efs!.id, subnetId, securityGroups: [this.securityGroup.id], dependsOn: rules });
      });
      new EksAddon(this, 'efs-csi-driver', { clusterName: cluster.cluster.name, addonName: 'aws-efs-csi-driver', resolveConflictsOnUpdate: 'OVERWRITE' });
      this.capacity = '1Ti';
      driver = 'efs.csi.aws.com';
      // An access point per team: EFS creates its root directory (owned by the restricted pods'
      // uid/gid) and confines every mount through it to that directory.
      const efs = this.efs;
      const points = Object.fromEntries(props.teams.map((team) => [team, new EfsAccessPoint(this, `access-point-${team}`, {
        fileSystemId: efs.id,
        posixUser: { uid: 1000, gid: 1000 },
        rootDirectory: { path: teamDirectory(team), creationInfo: { ownerUid: 1000, ownerGid: 1000, permissions: '0750' } },
        tags: { Name: `${cluster.clusterName}-${team}` },
      })]));
      volumeOf = (team) => ({ volumeHandle: `${efs.id}::${points[team].id}` });
      mountOptions = ['tls'];
    }

    for (const team of props.teams) {
      ClusterValues.persistentVolume(this, {
        name: this.volumeName(team), capacity: this.capacity, driver, ...volumeOf(team), mountOptions,
      });
    }
  }

  /** The PersistentVolume of a team's claim. */
  public volumeName(team: string): string {
    return `${(this.node.scope as ClusterLike).clusterName}-shared-${team}`;
  }
}
