import { PlatformCheck } from './check';
import { addonsCheck } from './checks/addons';
import { referencesCheck } from './checks/references';

export * from './check';
export * from './model';
export * from './checks/addons';
export * from './checks/references';

/** The library's platform checks, run at every `PlatformApp.synth()`. */
export const PLATFORM_CHECKS: PlatformCheck[] = [referencesCheck, addonsCheck];
