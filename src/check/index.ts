import { PlatformCheck } from './check';
import { addonsCheck } from './checks/addons';
import { argoWorkflowsCheck } from './checks/argo-workflows';
import { imagesCheck } from './checks/images';
import { applyOrderCheck } from './checks/apply-order';
import { namespacesCheck } from './checks/namespaces';
import { networkCheck } from './checks/network';
import { podSecurityCheck } from './checks/pod-security';
import { referencesCheck } from './checks/references';
import { rolloutsCheck } from './checks/rollouts';
import { schedulingCheck } from './checks/scheduling';

export * from './check';
export * from './model';
export * from './checks/addons';
export * from './checks/references';
export { applyOrderCheck, kubectlApplyOrder, walkOrder } from './checks/apply-order';
export { namespacesCheck } from './checks/namespaces';
export { podContainers, podSecurityCheck, podSecurityViolations } from './checks/pod-security';
export { rolloutsCheck } from './checks/rollouts';
export { networkCheck } from './checks/network';
export { schedulingCheck } from './checks/scheduling';
export { argoWorkflowsCheck } from './checks/argo-workflows';
export { imagesCheck } from './checks/images';

/** The library's platform checks, run at every `PlatformApp.synth()`. */
export const PLATFORM_CHECKS: PlatformCheck[] = [namespacesCheck, applyOrderCheck, podSecurityCheck, referencesCheck, addonsCheck, rolloutsCheck, schedulingCheck, networkCheck, argoWorkflowsCheck, imagesCheck];
