import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { EcrRepository } from '../providers/aws';
import { Construct } from '../engine';
import { PlatformApp } from './app';
import { platformRepository } from './ecr';
import { check } from './errors';
import { PlatformKey } from './key';
import { NameRules } from './names';

/** `name==version` or `name[extra,...]==version`: one exact version per package, as pip's requirement specifiers say it. */
const PIP_PIN = /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?==[0-9][A-Za-z0-9.+!-]*$/;
/** A base image: `[registry/]repository:tag`, optionally `@sha256:<digest>`, no `latest`. */
const BASE_IMAGE = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[0-9a-f]{64})?$/;

/** Props of an ImageRecipe. */
export interface ImageRecipeProps {
  /** The image's name: its ECR repository is `<platform>-<environment>/images/<name>`. A DNS label. */
  readonly name: string;
  /**
   * The image it is built from, an official one (`ghcr.io/mlflow/mlflow:v3.14.0`, `python:3.11-slim`),
   * by tag or by tag and digest. The build resolves a tag to its digest and records it in the lock
   * (`base`), so that every build says exactly what it started from.
   */
  readonly base: string;
  /** The version the tag starts with, e.g. `3.14.0` (the tag is `<version>-<12 hex of the recipe's hash>`). */
  readonly version: string;
  /** Python packages added, each pinned to one version (`boto3==1.43.67`, `feast[aws,redis]==0.50.0`). @default - none */
  readonly pipPackages?: string[];
  /** The user the image runs as (pods set their own non-root user too). @default 10001 */
  readonly uid?: number;
}

/**
 * An image the platform builds into its own ECR repository: an official base plus what the platform
 * needs, as a Dockerfile generated from these props. Its tag is the version and the hash of the
 * Dockerfile, so a changed recipe is a new tag in an immutable repository, never a re-pushed one.
 */
export class ImageRecipe {
  /**
   * MLflow's official image (`ghcr.io/mlflow/mlflow:v<version>`, built by the MLflow project) with
   * what the registry needs and the official image lacks: psycopg2 (PostgreSQL backend store) and
   * boto3 (S3 artifacts, for the server, the pipeline steps and the serving init containers).
   */
  public static mlflow(version = '3.14.0'): ImageRecipe {
    return new ImageRecipe({ name: 'mlflow', base: `ghcr.io/mlflow/mlflow:v${version}`, version, pipPackages: ['psycopg2-binary==2.9.10', 'boto3==1.43.67'] });
  }

  /**
   * The Feast feature server (`feast serve`, `feast materialize-incremental`): the official Python image
   * with Feast and the AWS (S3, DynamoDB) and Redis extras, as Feast's own feature-server image is built.
   */
  public static feastFeatureServer(version = '0.50.0'): ImageRecipe {
    return new ImageRecipe({ name: 'feast-feature-server', base: 'python:3.11-slim', version, pipPackages: [`feast[aws,redis]==${version}`] });
  }

  /** Any other image built from a base and pinned Python packages. */
  public static custom(props: ImageRecipeProps): ImageRecipe {
    return new ImageRecipe(props);
  }

  private constructor(
    /** What the image is built from and with. */
    public readonly props: ImageRecipeProps,
  ) {}

  /** The image's name. */
  public get name(): string {
    return this.props.name;
  }

  /** The Dockerfile; its `BASE_IMAGE` argument defaults to `base` (the build passes it pinned by digest). */
  public get dockerfile(): string {
    const pip = this.props.pipPackages ?? [];
    return [
      '# syntax=docker/dockerfile:1',
      `# ImageRecipe '${this.props.name}' (mlops-platform-constructs), built by platform-images build (scripts/images.mjs).`,
      `ARG BASE_IMAGE=${this.props.base}`,
      'FROM ${BASE_IMAGE}',
      'USER root',
      ...(pip.length ? [`RUN python -m pip install --no-cache-dir --disable-pip-version-check ${pip.map((p) => `'${p}'`).join(' ')}`] : []),
      `USER ${this.props.uid ?? 10001}:${this.props.uid ?? 10001}`,
      '',
    ].join('\n');
  }

  /** `<version>-<first 12 hex of sha256(Dockerfile)>`. */
  public get tag(): string {
    return `${this.props.version}-${createHash('sha256').update(this.dockerfile).digest('hex').slice(0, 12)}`;
  }

  /** @internal */
  public validate(scope: Construct, prop: string): void {
    NameRules.dnsLabel(scope, `${prop}.name`, this.props.name);
    check(BASE_IMAGE.test(this.props.base) && !/:latest(@|$)/.test(this.props.base), scope, `${prop}.base`, this.props.base,
      'must be an image by tag (not \'latest\'), optionally with its digest, e.g. \'ghcr.io/mlflow/mlflow:v3.14.0\'');
    check(/^[0-9A-Za-z][0-9A-Za-z._-]{0,100}$/.test(this.props.version), scope, `${prop}.version`, this.props.version, 'must be a version usable in an image tag, e.g. \'3.14.0\'');
    (this.props.pipPackages ?? []).forEach((p, i) => check(PIP_PIN.test(p), scope, `${prop}.pipPackages[${i}]`, p,
      'must pin one version with \'==\' (\'boto3==1.43.67\', \'feast[aws,redis]==0.50.0\'): a range lets each build install something else'));
    const uid = this.props.uid ?? 10001;
    check(Number.isInteger(uid) && uid >= 1000 && uid <= 65535, scope, `${prop}.uid`, uid, 'must be a non-root user id from 1000 to 65535');
  }
}

/** One built image, as `platform-images build` (scripts/images.mjs) records it in the lock file. */
export interface LockedImage {
  /** `sha256:<64 hex>`: the digest the registry gave the pushed image. */
  readonly digest: string;
  /** The base it was built from, pinned: `<base>@sha256:<64 hex>`. */
  readonly base: string;
}

/** The lock file of built images: `{ "images": { "<repository URL>:<tag>": { digest, base } } }`. */
export class ImageLock {
  /** Reads a lock file; a missing file is an empty lock (nothing built yet). */
  public static fromFile(file: string): ImageLock {
    if (!fs.existsSync(file)) return new ImageLock({}, file);
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { images?: Record<string, LockedImage> };
    return new ImageLock(parsed.images ?? {}, file);
  }

  /** A lock with these entries (tests, or a lock kept elsewhere). */
  public static of(images: Record<string, LockedImage>): ImageLock {
    return new ImageLock(images);
  }

  private constructor(
    /** The built images, by `<repository URL>:<tag>`. */
    public readonly images: Record<string, LockedImage>,
    /** The file the lock was read from (and the build writes), if any. */
    public readonly file?: string,
  ) {}
}

/** Props of PlatformImageBuilds. */
export interface PlatformImageBuildsProps {
  /** The images to build. */
  readonly recipes: ImageRecipe[];
  /** Where the build records digests. @default ImageLock.fromFile('images.lock.json') (relative to the working directory) */
  readonly lock?: ImageLock;
}

/** @internal A recipe, its repository and, once built, its lock entry. */
export interface BuiltImage {
  readonly recipe: ImageRecipe;
  readonly repositoryUrl: string;
  readonly locked?: LockedImage;
}

const builds = new WeakMap<PlatformApp, PlatformImageBuilds[]>();

/**
 * The platform's own images, built from official bases into its own ECR repositories: one repository
 * per recipe (immutable tags, scanned on push, encrypted with a key of the platform, kept on destroy),
 * and at synth a build context per image in `<cdktf.out>/images/<name>/` with `images.json` listing
 * what to build. `platform-images build` (scripts/images.mjs; CI, after the first apply has made the repositories)
 * builds and pushes each image not built yet and records its digest in the lock file;
 * `image(name)` is then `<repository>:<tag>@sha256:<digest>`, and before that `undefined`, so the
 * constructs run their catalog default (`unbuilt()` lists those).
 */
export class PlatformImageBuilds extends Construct {
  /** The images of a platform that are not built yet (no lock entry for their repository and tag). */
  public static unbuilt(app: PlatformApp): string[] {
    return (builds.get(app) ?? []).flatMap((b) => [...b.images.values()].filter((i) => !i.locked).map((i) => `${i.repositoryUrl}:${i.recipe.tag}`));
  }

  /** The ECR repositories, by image name. */
  public readonly repositories: Record<string, EcrRepository> = {};
  private readonly images = new Map<string, BuiltImage>();
  private readonly lock: ImageLock;

  constructor(scope: Construct, id: string, props: PlatformImageBuildsProps) {
    super(scope, id);
    const app = PlatformApp.of(this);
    const context = app.context;
    this.lock = props.lock ?? ImageLock.fromFile('images.lock.json');
    check(props.recipes.length > 0, this, 'recipes', [], 'must name at least one image to build');
    props.recipes.forEach((r, i) => r.validate(this, `recipes[${i}]`));
    const names = props.recipes.map((r) => r.name);
    check(new Set(names).size === names.length, this, 'recipes', names, 'must name each image once');
    const key = new PlatformKey(this, 'key', { description: `Container images of ${context.physicalName()}`, alias: context.physicalName('images') });
    for (const recipe of props.recipes) {
      const name = `${context.name}-${context.environment.name}/images/${recipe.name}`;
      const repository = platformRepository(this, `repository-${recipe.name}`, { name, kmsKeyArn: key.keyArn });
      this.repositories[recipe.name] = repository;
      // The URL is built from the account and region: manifests need nothing that exists only after apply.
      const repositoryUrl = `${context.accountId}.dkr.ecr.${context.region}.amazonaws.com/${name}`;
      const locked = this.lock.images[`${repositoryUrl}:${recipe.tag}`];
      if (locked) {
        check(/^sha256:[0-9a-f]{64}$/.test(locked.digest), this, `lock '${this.lock.file ?? 'ImageLock.of'}' ${repositoryUrl}:${recipe.tag}.digest`, locked.digest, 'must be \'sha256:<64 lower-case hex digits>\'');
      }
      this.images.set(recipe.name, { recipe, repositoryUrl, locked });
    }
    const all = builds.get(app) ?? [];
    // One hook per app writes every construct's images: images.json lists exactly this synth's images.
    if (all.length === 0) app.addSynthHook({ beforeSynth: () => writeBuildContexts(app.outdir, builds.get(app) ?? []) });
    builds.set(app, [...all, this]);
  }

  /** The image's pinned reference once it is built and locked; `undefined` before. */
  public image(name: string): string | undefined {
    const built = this.images.get(name);
    check(built !== undefined, this, 'image(name)', name, `is not one of this construct's recipes (${[...this.images.keys()].map((n) => `'${n}'`).join(', ')})`);
    return built!.locked ? `${built!.repositoryUrl}:${built!.recipe.tag}@${built!.locked.digest}` : undefined;
  }

  /** @internal */
  public get builtImages(): BuiltImage[] {
    return [...this.images.values()];
  }

  /** @internal */
  public get lockFile(): string | undefined {
    return this.lock.file;
  }
}

function writeBuildContexts(outdir: string, all: PlatformImageBuilds[]): void {
  const dir = path.join(outdir, 'images');
  fs.rmSync(dir, { recursive: true, force: true });
  const images: object[] = [];
  for (const { recipe, repositoryUrl } of all.flatMap((b) => b.builtImages)) {
    fs.mkdirSync(path.join(dir, recipe.name), { recursive: true });
    fs.writeFileSync(path.join(dir, recipe.name, 'Dockerfile'), recipe.dockerfile);
    images.push({ name: recipe.name, repository: repositoryUrl, tag: recipe.tag, base: recipe.props.base, context: recipe.name });
  }
  // The lock the build writes, relative to the folder the build runs from (the project's).
  const lockFile = all.map((b) => b.lockFile).find((f) => f !== undefined);
  const lock = lockFile ? path.relative(process.cwd(), path.resolve(lockFile)) : undefined;
  fs.writeFileSync(path.join(dir, 'images.json'), `${JSON.stringify({ lock, images }, null, 2)}\n`);
}
