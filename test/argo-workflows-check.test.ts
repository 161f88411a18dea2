import { argoWorkflowsCheck, PlatformModel, runPlatformChecks } from '../src';

/** A WorkflowTemplate of a validate → train DAG, with `train` as given. */
function workflowTemplate(train: object, trainTask: object = {}) {
  return {
    apiVersion: 'argoproj.io/v1alpha1', kind: 'WorkflowTemplate', metadata: { name: 'retrain', namespace: 'pipelines' },
    spec: {
      entrypoint: 'pipeline',
      arguments: { parameters: [{ name: 'trigger', value: 'manual' }] },
      templates: [
        { name: 'pipeline', dag: { tasks: [{ name: 'validate', template: 'validate' }, { name: 'train', template: 'train', dependencies: ['validate'], ...trainTask }] } },
        { name: 'validate', outputs: { parameters: [{ name: 'data-version', valueFrom: { path: '/tmp/v' } }] }, container: { image: 'x', command: ['v'] } },
        { name: 'train', ...train },
      ],
    },
  };
}
const findings = (object: object) => runPlatformChecks(new PlatformModel({ terraform: {}, manifests: { 'p.k8s.yaml': [object] } }), [argoWorkflowsCheck]);

describe('platform check argo-workflows', () => {
  it('refuses a leaf template that reads another task\'s output directly, as Argo\'s validator does', () => {
    // argo-workflows workflow/validate/validate.go: validateLeaf resolves the template's {{...}} against its
    // own scope (inputs, workflow globals) in resolveAllVariables, and fails "failed to resolve {{tasks...}}".
    const broken = workflowTemplate({ container: { image: 'x', env: [{ name: 'DATA_VERSION', value: '{{tasks.validate.outputs.parameters.data-version}}' }, { name: 'RUN', value: '{{workflow.name}}' }] } });
    expect(findings(broken).map((f) => f.problem)).toEqual([
      'template \'train\': reads {{tasks.validate.outputs.parameters.data-version}}, which does not resolve in a leaf template (Argo: "failed to resolve {{tasks.validate.outputs.parameters.data-version}}"); it sees only its own inputs and the workflow\'s globals',
    ]);
    expect(findings(broken)[0].fix).toMatch(/pass the value as an argument of the DAG task/);
  });

  it('accepts the value passed as a DAG task argument into a declared input', () => {
    const fixed = workflowTemplate(
      { inputs: { parameters: [{ name: 'data-version' }] }, container: { image: 'x', env: [{ name: 'DATA_VERSION', value: '{{inputs.parameters.data-version}}' }, { name: 'T', value: '{{workflow.parameters.trigger}}' }] } },
      { arguments: { parameters: [{ name: 'data-version', value: '{{tasks.validate.outputs.parameters.data-version}}' }] } },
    );
    expect(findings(fixed)).toEqual([]);
  });

  it('refuses a task that reads a task it does not depend on, an undeclared output, and arguments that do not match the inputs', () => {
    const t = workflowTemplate(
      { inputs: { parameters: [{ name: 'data-version' }, { name: 'epochs' }] }, container: { image: 'x', args: ['{{inputs.parameters.data-version}}', '{{inputs.parameters.epochs}}'] } },
      { dependencies: [], arguments: { parameters: [{ name: 'data-version', value: '{{tasks.validate.outputs.parameters.data-version}}' }, { name: 'lr', value: '{{tasks.train.outputs.parameters.nope}}' }] } },
    );
    expect(findings(t).map((f) => f.problem)).toEqual([
      expect.stringMatching(/task 'train' reads \{\{tasks\.validate\.outputs\.parameters\.data-version\}\}, which does not resolve in its scope/),
      expect.stringMatching(/task 'train' reads \{\{tasks\.train\.outputs\.parameters\.nope\}\}/),
      'template \'pipeline\': task \'train\' does not supply inputs.parameters.epochs of template \'train\' (Argo: "was not supplied")',
      'template \'pipeline\': task \'train\' passes parameter \'lr\' that template \'train\' does not declare in inputs.parameters, so it never reaches it',
    ]);
  });
});
