// `tend init`: a new deployment root — a commented tend.yaml, desired/ with a commented example that
// is not loaded (it does not end in .yaml), a copy of tend's schemas in schemas/ (the files' schema
// lines point there, so they survive the root being cloned anywhere), and a .gitignore keeping
// releases/, instances/ and .env files out of git. Never overwrites tend.yaml.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CONFIG_FILE } from '../spec/config.js';
import { SCHEMA_DIR } from '../spec/schemas.js';
import { OpsError } from './guard.js';
import { ROOT_SCHEMA_DIR, ROOT_SCHEMAS, schemaLine } from './schema-ref.js';

export interface InitOptions {
  /** The folder to make the root (created when missing). */
  dir: string;
  /** tend.yaml `app:` (prefix of unit, container and session names); default: the folder's name. */
  app?: string;
  /** tend.yaml `source.repo`; default `.` (the root is the app's repository). */
  repo?: string;
}

export interface InitResult {
  root: string;
  /** Files written or extended, relative to the root. */
  written: string[];
}

const APP = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

/** A folder name made into an app name (lowercase, starting with a letter, at most 40 characters). */
function appFrom(folder: string): string {
  const name = folder.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+/, '').slice(0, 40).replace(/-+$/, '');
  return name || 'app';
}

export const GITIGNORE_LINES = ['/releases/', '/instances/', '.env', '*.env'];

function tendYaml(dir: string, app: string, repo: string): string {
  return `${schemaLine(dir, 'tend.schema.json', dir)}
# A tend deployment root: this file plus desired/ (one file per instance, e.g. desired/web.yaml).
# Check it with \`tend validate\`, preview with \`tend reconcile --dry-run\`, start instances with
# \`tend create <name>\` or by adding desired files and running \`tend reconcile\`.
apiVersion: tend/v1
app: ${app}                         # units, containers and sessions are named ${app}-<instance>

source:
  repo: ${JSON.stringify(repo)}                         # the app's git repository (a path or URL); releases are built from its tags
  build: ./build.sh                 # your build command, run in a temporary clone of the tag
  # Say what your build produces and what runs (nothing is assumed: tend checks the build made each
  # artifact and copies them into releases/<version>/; an instance cannot start until run is set):
  # artifacts: [bin/${app}]         # files the build must produce, relative to the repository
  # run:
  #   artifact: bin/${app}          # what the service executes (one of the artifacts)
  #   # placeholders: \${port} \${address} \${name} \${version} \${instanceDir} \${configPath}
  #   args: [--port, "\${port}", --address, "\${address}"]
  secrets: []                       # names every instance's instances/<name>/.env must hold
  # image: ${app}:latest            # the Docker image the build produces (for runtime: docker)

defaults:                           # merged under every desired file
  runtime: auto                     # systemd | launchd | docker | tmux | auto
  health:
    http: /health                   # or tcp: true, or exec: [argv]
    timeout: 30s

releases:
  keep: 5                           # releases kept by tend prune-releases

prune:
  deleteRemoved: false              # a removed desired file reports an orphan; delete with --prune or tend delete
  maxShare: 0.5                     # never delete more than half of the instances in one plan

# systemd:
#   scope: user                     # system (default: /etc/systemd/system) or user (~/.config/systemd/user)
# agent:
#   git: {pull: false}              # true: the agent pulls desired/ from git; editing commands then need --local
`;
}

function exampleInstance(dir: string, root: string): string {
  return `${schemaLine(dir, 'instance.schema.json', root)}
# An example instance: copy it to desired/<name>.yaml (the file name is the instance name), or run
# \`tend create <name>\`, which writes such a file and starts the instance.
version: latest          # a git tag of the app, or latest (the highest semver tag)
# runtime: tmux          # systemd | launchd | docker | tmux | auto (default from tend.yaml)
port: 8081
# address: 127.0.0.1
# env:                   # plain environment; never secrets
#   LOG_LEVEL: info
# secrets: [API_KEY]     # names only: values live in instances/<name>/.env (0600, never in git)
# config:                # free-form, rendered into instances/<name>/config.yaml
#   motd: hello
# health:
#   http: /health
#   timeout: 30s
`;
}

/**
 * Makes `dir` a deployment root: tend.yaml, desired/ (with desired/example.yaml.sample), schemas/
 * (a copy of tend's two schemas, which the schema lines point at) and a .gitignore (missing lines
 * appended to an existing one).
 * @throws OpsError `refused` when tend.yaml exists, `invalid` when the app name is not usable.
 */
export function initRoot(opts: InitOptions): InitResult {
  const root = resolve(opts.dir);
  const configFile = join(root, CONFIG_FILE);
  if (existsSync(configFile)) throw new OpsError(`${configFile} exists: not overwritten`, 'refused');
  const app = opts.app ?? appFrom(basename(root));
  if (!APP.test(app) || app.length > 40) {
    throw new OpsError(`app name "${app}" must be a lowercase name (a-z, 0-9, '-') starting with a letter, at most 40 characters`, 'invalid');
  }
  mkdirSync(join(root, 'desired'), { recursive: true });
  const written: string[] = [];
  // The root's own copy of the schemas, before the files that point at it (an existing copy is kept).
  mkdirSync(join(root, ROOT_SCHEMA_DIR), { recursive: true });
  for (const schema of ROOT_SCHEMAS) {
    const copy = join(root, ROOT_SCHEMA_DIR, schema);
    if (existsSync(copy)) continue;
    copyFileSync(join(SCHEMA_DIR, schema), copy);
    written.push(`${ROOT_SCHEMA_DIR}/${schema}`);
  }
  writeFileSync(configFile, tendYaml(root, app, opts.repo ?? '.'), { flag: 'wx' });
  written.push(CONFIG_FILE);
  const example = join(root, 'desired', 'example.yaml.sample');
  if (!existsSync(example)) {
    writeFileSync(example, exampleInstance(join(root, 'desired'), root));
    written.push('desired/example.yaml.sample');
  }
  const ignore = join(root, '.gitignore');
  const before = existsSync(ignore) ? readFileSync(ignore, 'utf8') : '';
  const have = new Set(before.split(/\r?\n/).map((l) => l.trim()));
  const add = GITIGNORE_LINES.filter((l) => !have.has(l));
  if (add.length > 0) {
    const head = before === '' ? '# tend: built releases, instance state and secrets stay out of git\n' : `${before.endsWith('\n') ? '' : '\n'}# tend\n`;
    writeFileSync(ignore, `${before}${head}${add.join('\n')}\n`);
    written.push('.gitignore');
  }
  return { root, written };
}
