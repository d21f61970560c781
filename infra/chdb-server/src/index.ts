export {
  startChdbServer,
  parseRequest,
  type ChdbServer,
  type ChdbServerOptions,
} from './server.js';
