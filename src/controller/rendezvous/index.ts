// Rendezvous: how a gang's replicas find each other (a headless Service, stable hostnames, launcher env).
export { needsService, rendezvousEnv } from './env.js';
export { replicaAddress, replicaHostname, serviceName } from './names.js';
export {
  buildRendezvousService,
  ensureRendezvousService,
  trainerSelector,
  type ServiceState,
} from './service.js';
