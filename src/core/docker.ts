import Dockerode from 'dockerode';

export interface EngineEndpoint {
  /** What the user sees: `unix:///var/run/docker.sock` or the DOCKER_HOST value. */
  display: string;
  source: 'DOCKER_HOST' | 'default socket';
}

/** The engine endpoint as the docker CLI picks it: DOCKER_HOST, else the default Unix socket. */
export function engineEndpoint(env: NodeJS.ProcessEnv = process.env): EngineEndpoint {
  const host = env.DOCKER_HOST?.trim();
  if (host) return { display: host, source: 'DOCKER_HOST' };
  return { display: 'unix:///var/run/docker.sock', source: 'default socket' };
}

let shared: Dockerode | undefined;

/** One client per process; dockerode itself reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH. */
export function docker(): Dockerode {
  shared ??= process.env.DOCKER_HOST ? new Dockerode() : new Dockerode({ socketPath: '/var/run/docker.sock' });
  return shared;
}
