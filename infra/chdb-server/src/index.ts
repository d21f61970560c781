export {
  startChdbServer,
  parseRequest,
  type ChdbServer,
  type ChdbServerOptions,
} from './server.js';
export { CHDB_SERVER_USER } from './access.js';
export { MAX_BODY_BYTES, MAX_INFLATED_BODY_BYTES, readBody } from './body.js';
export {
  serverPassword,
  MIN_PASSWORD_LENGTH,
  PASSWORD_FILE_NAME,
  type ServerPassword,
} from './password.js';
