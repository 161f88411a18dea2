import type { IConstruct } from '../engine';
import { ApiObject, Chart, TerraformStack } from '../engine';
import { PlatformApp } from './app';
import { NameRules } from './names';
import { CostAttribution } from './tags';

/** Props of a PlatformChart. */
export interface PlatformChartProps {
  /**
   * The namespace of the chart's namespaced objects.
   * @default - objects carry no namespace unless they set one
   */
  readonly namespace?: string;
}

/**
 * The Kubernetes half of a library construct: a cdk8s chart that belongs to a construct in a
 * Terraform stack and is written to `k8s.out/<stack>/<construct path>.k8s.yaml`.
 *
 * Every object in it carries the owner's cost-attribution labels (`mlops.io/team`, `mlops.io/model`,
 * ...), added when the chart is written, so attribution set after the chart was made still counts.
 */
export class PlatformChart extends Chart {
  /** The construct, in a Terraform stack, that owns this chart. */
  public readonly owner: IConstruct;

  constructor(owner: IConstruct, props: PlatformChartProps = {}) {
    const app = PlatformApp.of(owner);
    const stack = TerraformStack.of(owner);
    const relative = owner.node.scopes.slice(owner.node.scopes.indexOf(stack) + 1).map((s) => s.node.id);
    const id = [stack.node.id, ...relative].join('--');
    if (props.namespace !== undefined) NameRules.dnsLabel(owner, 'namespace', props.namespace);
    super(app.kubernetes, id, { namespace: props.namespace, disableResourceNameHashes: true });
    this.owner = owner;
  }

  public toJson(): any[] {
    const labels = CostAttribution.tagsOf(this.owner);
    for (const obj of this.node.findAll()) {
      if (!ApiObject.isApiObject(obj)) continue;
      for (const [key, value] of Object.entries(labels)) {
        if (obj.metadata.getLabel(key) === undefined) obj.metadata.addLabel(key, value);
      }
    }
    const docs = super.toJson();
    // A manifest must not need a value that exists only after `terraform apply`.
    for (const doc of docs) {
      const text = JSON.stringify(doc);
      const at = text.indexOf('${TfToken[');
      if (at >= 0) {
        const context = text.slice(Math.max(0, at - 80), at);
        throw new Error(`'${this.owner.node.path}': ${doc.kind} '${doc.metadata?.name}' holds a Terraform value that exists only after apply (near ...${context}); pass it through ClusterValues (a Secret or ConfigMap the KubernetesStack writes) or use a deterministic name.`);
      }
    }
    return docs;
  }
}
