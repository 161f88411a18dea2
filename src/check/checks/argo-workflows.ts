import { finding, PlatformCheck, PlatformFinding } from '../check';
import { ManifestObject, PlatformModel } from '../model';

const ID = 'argo-workflows';

/** The prefixes of a `{{...}}` tag Argo validates; any other tag (an expression `{{=...}}`, a custom variable) it leaves alone. */
const VALIDATED_PREFIXES = ['item', 'steps.', 'inputs.', 'outputs.', 'pod.', 'workflow.', 'tasks.'];

/** Tags every template may use: the workflow's globals, itself (outputs, for metrics) and its pod and node names. */
const ALWAYS = [/^workflow\.(name|namespace|uid|mainEntrypoint|serviceAccountName|status|failures|duration|priority|creationTimestamp|scheduledTime|labels|annotations|outputs)(\.|$)/, /^outputs\./, /^pod\.name$/, /^node\.name$/, /^tasks\.name$/, /^steps\.name$/];

function tagsIn(value: unknown): string[] {
  return [...JSON.stringify(value ?? null).matchAll(/\{\{([^{}]*)\}\}/g)].map((m) => m[1].trim());
}

function names(list: Array<{ name: string }> | undefined): Set<string> {
  return new Set((list ?? []).map((p) => p.name));
}

/**
 * Argo Workflows resolves every `{{...}}` of a template in that template's scope, and refuses the
 * workflow otherwise ("failed to resolve {{...}}"): argo-workflows `workflow/validate/validate.go`,
 * `resolveAllVariables` with the scope `validateTemplate` builds — a template's own
 * `inputs.parameters`/`inputs.artifacts`, `workflow.parameters` and the other `workflow.*` globals,
 * `pod.name`; `tasks.<t>.*` only inside a DAG template for the task's (transitive) dependencies
 * (`validateDAG`), `steps.<s>.*` only inside a steps template for steps of earlier groups
 * (`validateSteps`), `item` only where `withItems`/`withParam` sets it. A DAG task or step must also
 * supply every input parameter of the template it calls that has no default
 * ("inputs.parameters.<p> was not supplied"); an argument the callee does not declare never reaches it.
 */
export const argoWorkflowsCheck: PlatformCheck = {
  id: ID,
  description: 'Every {{...}} of an Argo workflow template resolves in that template\'s scope, and DAG tasks and steps pass exactly the inputs their templates declare',
  upstream: 'argo-workflows workflow/validate/validate.go (resolveAllVariables, validateLeaf, validateDAG, validateSteps; validateArgumentsValues)',
  check(model: PlatformModel): PlatformFinding[] {
    const out: PlatformFinding[] = [];
    for (const kind of ['Workflow', 'WorkflowTemplate', 'CronWorkflow']) {
      for (const o of model.kind(kind, { group: 'argoproj.io' })) {
        const spec = kind === 'CronWorkflow' ? o.object.spec?.workflowSpec : o.object.spec;
        if (spec?.templates) out.push(...checkSpec(o, spec, kind === 'Workflow'));
      }
    }
    return out;
  },
};

function checkSpec(o: ManifestObject, spec: any, strictGlobals: boolean): PlatformFinding[] {
  const out: PlatformFinding[] = [];
  const templates = new Map<string, any>((spec.templates as any[]).map((t) => [t.name, t]));
  const globals = names(spec.arguments?.parameters);
  const report = (t: any, problem: string, fix: string) => out.push(finding(ID, o, `template '${t.name}': ${problem}`, fix));
  const inScopeEverywhere = (tag: string, t: any) => ALWAYS.some((r) => r.test(tag))
    || (tag.startsWith('inputs.parameters.') && names(t.inputs?.parameters).has(tag.slice('inputs.parameters.'.length)))
    || (tag.startsWith('inputs.artifacts.') && names(t.inputs?.artifacts).has(tag.slice('inputs.artifacts.'.length)))
    // A WorkflowTemplate validated alone may read parameters the submitting Workflow adds.
    || (tag.startsWith('workflow.parameters.') && (!strictGlobals || globals.has(tag.slice('workflow.parameters.'.length))));
  const validated = (tag: string) => VALIDATED_PREFIXES.some((p) => tag.startsWith(p));
  const outputOf = (callee: any, rest: string) => {
    const m = /^outputs\.parameters\.(.+)$/.exec(rest);
    return !m || !callee || names(callee.outputs?.parameters).has(m[1]);
  };
  const checkArguments = (t: any, call: any, kind: string) => {
    const callee = call.template ? templates.get(call.template) : undefined;
    if (call.template && !callee) { report(t, `${kind} '${call.name}' calls template '${call.template}', which does not exist`, 'name a template of this workflow'); return; }
    if (!callee) return; // templateRef: another object's template
    const given = names(call.arguments?.parameters);
    for (const p of callee.inputs?.parameters ?? []) {
      if (!given.has(p.name) && p.value === undefined && p.default === undefined) {
        report(t, `${kind} '${call.name}' does not supply inputs.parameters.${p.name} of template '${callee.name}' (Argo: "was not supplied")`, `add { name: '${p.name}', value } to the ${kind}'s arguments.parameters`);
      }
    }
    for (const name of given) {
      if (!names(callee.inputs?.parameters).has(name)) report(t, `${kind} '${call.name}' passes parameter '${name}' that template '${callee.name}' does not declare in inputs.parameters, so it never reaches it`, `declare { name: '${name}' } in the inputs.parameters of template '${callee.name}'`);
    }
  };

  for (const t of spec.templates as any[]) {
    if (t.dag) {
      const tasks = new Map<string, any>((t.dag.tasks ?? []).map((x: any) => [x.name, x]));
      const ancestors = (name: string, seen = new Set<string>()): Set<string> => {
        const task = tasks.get(name);
        const deps: string[] = [...(task?.dependencies ?? []), ...[...String(task?.depends ?? '').matchAll(/[A-Za-z0-9_-]+(?=\.|\s|\)|$)/g)].map((m) => m[0])];
        for (const d of deps) if (tasks.has(d) && !seen.has(d)) { seen.add(d); ancestors(d, seen); }
        return seen;
      };
      for (const task of tasks.values()) {
        const before = ancestors(task.name);
        const items = task.withItems !== undefined || task.withParam !== undefined || task.withSequence !== undefined;
        for (const tag of tagsIn(task)) {
          if (!validated(tag) || inScopeEverywhere(tag, t) || (items && /^item(\.|$)/.test(tag))) continue;
          const m = /^tasks\.([^.]+)\.(.+)$/.exec(tag);
          if (m && before.has(m[1]) && outputOf(templates.get(tasks.get(m[1])?.template), m[2])) continue;
          report(t, `task '${task.name}' reads {{${tag}}}, which does not resolve in its scope (Argo: "failed to resolve {{${tag}}}")`,
            m ? `read only outputs the template of a task it depends on declares: add '${m[1]}' to dependencies, or declare the output` : 'read the template\'s inputs, workflow parameters or globals');
        }
        checkArguments(t, task, 'task');
      }
    } else if (t.steps) {
      const earlier = new Set<string>();
      for (const group of t.steps as any[][]) {
        for (const step of group) {
          const items = step.withItems !== undefined || step.withParam !== undefined || step.withSequence !== undefined;
          for (const tag of tagsIn(step)) {
            if (!validated(tag) || inScopeEverywhere(tag, t) || (items && /^item(\.|$)/.test(tag))) continue;
            const m = /^steps\.([^.]+)\.(.+)$/.exec(tag);
            if (m && earlier.has(m[1])) continue;
            report(t, `step '${step.name}' reads {{${tag}}}, which does not resolve in its scope (Argo: "failed to resolve {{${tag}}}")`, 'read outputs of steps of earlier groups, the template\'s inputs, workflow parameters or globals');
          }
          checkArguments(t, step, 'step');
        }
        for (const step of group) earlier.add(step.name);
      }
    } else {
      // A leaf (container, script, resource...): its own inputs and the workflow's globals only.
      const bad = [...new Set(tagsIn(t))].filter((tag) => validated(tag) && !inScopeEverywhere(tag, t));
      for (const tag of bad) {
        report(t, `reads {{${tag}}}, which does not resolve in a leaf template (Argo: "failed to resolve {{${tag}}}"); it sees only its own inputs and the workflow's globals`,
          tag.startsWith('tasks.') || tag.startsWith('steps.')
            ? 'pass the value as an argument of the DAG task (or step) that calls this template, and read {{inputs.parameters.<name>}} after declaring it in inputs.parameters'
            : 'declare the input in inputs.parameters (or inputs.artifacts), or read a workflow parameter');
      }
    }
  }
  return out;
}
