import { PlatformCheck } from './check';

export * from './check';
export * from './model';

/** The library's platform checks, run at every `PlatformApp.synth()`. */
export const PLATFORM_CHECKS: PlatformCheck[] = [];
