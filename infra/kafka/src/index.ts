export {
  brokerStatus,
  fetchBrokerJars,
  resetBroker,
  startBroker,
  stopBroker,
  type BrokerOptions,
  type BrokerStatus,
  type LauncherLogger,
  type StartResult,
} from './launcher.js';
