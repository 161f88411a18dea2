import { PlatformCheck } from './check';
import { rolloutsCheck } from './checks/rollouts';

export * from './check';
export * from './model';
export { rolloutsCheck } from './checks/rollouts';

/** The library's platform checks, run at every `PlatformApp.synth()`. */
export const PLATFORM_CHECKS: PlatformCheck[] = [rolloutsCheck];
