import type { IAspect, IConstruct } from '../engine';
import { TerraformResource } from '../engine';
import { check } from './errors';
import { NameRules } from './names';
import { PlatformApp } from './app';
import { TAG_PREFIX } from './context';

const scopeTags = new WeakMap<IConstruct, Record<string, string>>();

/**
 * Cost attribution: the tags (AWS) and labels (Kubernetes) that let spend be read per platform,
 * environment, team and model.
 */
export class CostAttribution {
  /**
   * Attributes everything under `scope` to a team, overriding the platform's team.
   */
  public static team(scope: IConstruct, team: string): void {
    CostAttribution.add(scope, 'team', NameRules.dnsLabel(scope, 'team', team));
  }

  /** Attributes everything under `scope` to a model (and optionally a version). */
  public static model(scope: IConstruct, model: string, version?: string): void {
    CostAttribution.add(scope, 'model', NameRules.labelValue(scope, 'model', model));
    if (version !== undefined) CostAttribution.add(scope, 'model-version', NameRules.labelValue(scope, 'modelVersion', version));
  }

  /** Adds one attribution key (written as `mlops.io/<key>`) to everything under `scope`. */
  public static add(scope: IConstruct, key: string, value: string): void {
    check(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(key), scope, 'key', key, 'must be a DNS label');
    NameRules.labelValue(scope, key, value);
    scopeTags.set(scope, { ...(scopeTags.get(scope) ?? {}), [`${TAG_PREFIX}/${key}`]: value });
  }

  /**
   * The tags for a construct: the platform's, then those added on each scope from the root down
   * (the nearest scope wins).
   */
  public static tagsOf(scope: IConstruct): Record<string, string> {
    const tags: Record<string, string> = { ...PlatformApp.of(scope).context.baseTags };
    for (const node of scope.node.scopes) Object.assign(tags, scopeTags.get(node) ?? {});
    return tags;
  }
}

interface TaggableResource {
  tags?: Record<string, string>;
  readonly tagsInput?: Record<string, string>;
}

function isTaggable(node: IConstruct): node is TerraformResource & TaggableResource {
  return TerraformResource.isTerraformResource(node) && 'tagsInput' in node;
}

/**
 * Puts the cost-attribution tags on every taggable AWS resource; tags the resource already has win.
 * PlatformStack adds it to itself; Kubernetes objects get the same keys as labels when their chart
 * is written.
 */
export class CostTagAspect implements IAspect {
  public visit(node: IConstruct): void {
    if (!isTaggable(node)) return;
    node.tags = { ...CostAttribution.tagsOf(node), ...(node.tagsInput ?? {}) };
  }
}
