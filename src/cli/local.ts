import type { Command } from 'commander';

export function registerLocal(program: Command): void {
  program
    .command('local')
    .description('Run a local Kubernetes control plane with simulated GPU nodes (kwok)');
}
