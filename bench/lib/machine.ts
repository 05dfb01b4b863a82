// Facts about this machine and its tools, for the head of RESULTS.md.
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { execa } from 'execa';

export interface MachineFacts {
  cpu: string;
  cores: number;
  ramGiB: string;
  kernel: string;
  os: string;
  node: string;
  docker: string;
  dockerCompose: string;
  systemd: string;
  tmux: string;
  strace: string;
}

async function first(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false, stdin: 'ignore', timeout: 15_000 });
  const line = `${String(r.stdout)}\n${String(r.stderr)}`.split('\n').map((l) => l.trim()).find(Boolean);
  return r.exitCode === 0 && line ? line : 'not installed';
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? process.platform;
  } catch {
    return process.platform;
  }
}

export async function machineFacts(): Promise<MachineFacts> {
  const docker = await execa('docker', ['version', '--format', 'Engine {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}'], { reject: false, stdin: 'ignore' });
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    ramGiB: (totalmem() / 2 ** 30).toFixed(1),
    kernel: `${release()} (${(await first('uname', ['-v']))})`,
    os: osName(),
    node: process.version,
    docker: docker.exitCode === 0 ? String(docker.stdout).trim() : 'not available',
    dockerCompose: await first('docker-compose', ['version', '--short']),
    systemd: await first('systemctl', ['--version']),
    tmux: await first('tmux', ['-V']),
    strace: await first('strace', ['-V']),
  };
}

/** 1-minute load average, to show how quiet the machine was. */
export function load1(): number {
  return loadavg()[0] ?? NaN;
}
