import { AwsProvider } from '../providers/aws';
import { Aspects, Construct, LocalBackend, S3Backend, TerraformStack } from '../engine';
import { PlatformApp } from './app';
import { CostTagAspect } from './tags';

/** Where a stack keeps its Terraform state. */
export abstract class StateBackend {
  /**
   * An S3 backend with native S3 locking. The state object is `<keyPrefix>/<stack>.tfstate`.
   */
  public static s3(props: { readonly bucket: string; readonly keyPrefix?: string; readonly region?: string; readonly kmsKeyId?: string }): StateBackend {
    return new (class extends StateBackend {
      public bind(stack: TerraformStack, region: string): void {
        const backend = new S3Backend(stack, {
          bucket: props.bucket,
          key: `${props.keyPrefix ?? 'platform'}/${stack.node.id}.tfstate`,
          region: props.region ?? region,
          encrypt: true,
          kmsKeyId: props.kmsKeyId,
        });
        // S3-native state locking (Terraform 1.10+); the cdktf 0.21 binding predates the option.
        backend.addOverride('use_lockfile', true);
      }
    })();
  }

  /**
   * A local state file per stack at `<directory>/<stack>.tfstate`, relative to the stack's folder in
   * `cdktf.out/stacks/` so the synthesized JSON holds no absolute path. The default puts the files in
   * `terraform-state/` beside `cdktf.out`, so that deleting `cdktf.out` never deletes state. Good for
   * trying things out; teams use `StateBackend.s3`.
   */
  public static local(directory = '../../../terraform-state'): StateBackend {
    return new (class extends StateBackend {
      public bind(stack: TerraformStack): void {
        new LocalBackend(stack, { path: `${directory}/${stack.node.id}.tfstate` });
      }
    })();
  }

  /** @internal */
  public abstract bind(stack: TerraformStack, region: string): void;
}

/** Props of a PlatformStack. */
export interface PlatformStackProps {
  /**
   * Where the stack's state lives.
   * @default - a local state file per stack, by a relative path (`StateBackend.local()`)
   */
  readonly backend?: StateBackend;
}

/**
 * A Terraform stack of the platform: the AWS provider pinned to the platform's region and account,
 * its state backend, and cost-attribution tags on every taggable resource.
 */
export class PlatformStack extends TerraformStack {
  /** The AWS provider of this stack. */
  public readonly awsProvider: AwsProvider;

  constructor(scope: Construct, id: string, props: PlatformStackProps = {}) {
    super(scope, id);
    const context = PlatformApp.of(this).context;
    this.awsProvider = new AwsProvider(this, 'aws', {
      region: context.region,
      allowedAccountIds: [context.accountId],
    });
    (props.backend ?? StateBackend.local()).bind(this, context.region);
    Aspects.of(this).add(new CostTagAspect());
  }
}
