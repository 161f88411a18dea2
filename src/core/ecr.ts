import { EcrLifecyclePolicy, EcrRepository } from '../providers/aws';
import type { Construct } from '../engine';
import { PlatformApp } from './app';

/**
 * An ECR repository of the platform, as every construct that makes one makes it: immutable tags (a
 * pushed tag always names the same image), scanned on push, encrypted with a key of the platform, kept
 * on destroy (forced deletion only in a destroyable environment), untagged images expired after 14 days.
 * The repository and its lifecycle policy get the ids `id` and `<id>-lifecycle` in `scope`.
 */
export function platformRepository(scope: Construct, id: string, props: { readonly name: string; readonly kmsKeyArn: string }): EcrRepository {
  const destroyable = PlatformApp.of(scope).context.environment.destroyable;
  const repository = new EcrRepository(scope, id, {
    name: props.name,
    imageTagMutability: 'IMMUTABLE',
    imageScanningConfiguration: { scanOnPush: true },
    encryptionConfiguration: [{ encryptionType: 'KMS', kmsKey: props.kmsKeyArn }],
    forceDelete: destroyable,
    lifecycle: { preventDestroy: !destroyable },
  });
  new EcrLifecyclePolicy(scope, `${id}-lifecycle`, {
    repository: repository.name,
    policy: JSON.stringify({
      rules: [{ rulePriority: 1, description: 'Expire untagged images after 14 days', selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }, action: { type: 'expire' } }],
    }),
  });
  return repository;
}
