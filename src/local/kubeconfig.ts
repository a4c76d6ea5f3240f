import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

/** A kubeconfig with embedded certificates, so it can be copied anywhere. */
export function kubeconfigYaml(server: string, pkiDir: string, user: string, certName: string): string {
  const b64 = (f: string): string => readFileSync(join(pkiDir, f)).toString('base64');
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'rigshift-local', cluster: { server, 'certificate-authority-data': b64('ca.crt') } }],
    users: [
      {
        name: user,
        user: {
          'client-certificate-data': b64(`${certName}.crt`),
          'client-key-data': b64(`${certName}.key`),
        },
      },
    ],
    contexts: [{ name: 'rigshift-local', context: { cluster: 'rigshift-local', user } }],
    'current-context': 'rigshift-local',
  });
}
