import { PlatformApp, PlatformContextProps, PlatformImageBuilds } from '../src';

/**
 * Builds and synthesizes an app as a command does: a bad input or a platform-check finding is printed
 * once, as the library worded it (construct path, prop, value, what is allowed), without a stack
 * trace, and the process exits 1.
 */
export function runApp(platform: PlatformContextProps, build: (app: PlatformApp) => void, err: (text: string) => void = (t) => process.stderr.write(t)): number {
  try {
    const app = new PlatformApp({ platform });
    build(app);
    app.synth();
    const unbuilt = PlatformImageBuilds.unbuilt(app);
    if (unbuilt.length > 0) {
      err(`images: not built yet, so the catalog's defaults run in their place: ${unbuilt.join(', ')}; build them with 'npm run images:build' once the repositories exist (README, Images).\n`);
    }
    return 0;
  } catch (e) {
    err(`${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
