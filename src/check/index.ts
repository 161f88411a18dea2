import { PlatformCheck } from './check';
import { argoWorkflowsCheck } from './checks/argo-workflows';

export * from './check';
export * from './model';
export { argoWorkflowsCheck } from './checks/argo-workflows';

/** The library's platform checks, run at every `PlatformApp.synth()`. */
export const PLATFORM_CHECKS: PlatformCheck[] = [argoWorkflowsCheck];
