import { PlatformCheck } from './check';
import { networkCheck } from './checks/network';
import { schedulingCheck } from './checks/scheduling';

export * from './check';
export * from './model';

/** The library's platform checks, run at every `PlatformApp.synth()`. */
export const PLATFORM_CHECKS: PlatformCheck[] = [schedulingCheck, networkCheck];
