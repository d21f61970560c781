export { startStatusView, type StatusView } from './status-view.js';
export { statusRoutes } from './status-routes.js';
