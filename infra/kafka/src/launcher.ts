import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const execFileAsync = promisify(execFile);

const HOST = '127.0.0.1';
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const POM_FILE = join(PACKAGE_DIR, 'pom.xml');
const LIB_DIR = join(PACKAGE_DIR, 'lib');
const LOG4J_CONFIG = join(PACKAGE_DIR, 'log4j2.properties');

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const KILL_TIMEOUT_MS = 5_000;
const POLL_MS = 250;
/** broker.log is appended to by the JVM itself, so it is rotated (once) before each start instead. */
const MAX_LOG_BYTES = 20 * 1024 * 1024;
const LOG_TAIL_LINES = 20;

export interface LauncherLogger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
}

export interface BrokerOptions {
  /** The nanobill data dir (e.g. ./.data); the broker's files live under `<dataDir>/kafka/`. */
  dataDir: string;
  /** Client (PLAINTEXT) port on 127.0.0.1. Default 9092. */
  port?: number;
  /** KRaft controller port on 127.0.0.1. Default `port + 1`. */
  controllerPort?: number;
  /** JVM max heap in MiB. Default 512. */
  heapMb?: number;
  logger?: LauncherLogger;
}

export interface StartResult {
  brokers: string[];
  alreadyRunning: boolean;
  pid: number;
}

export interface BrokerStatus {
  running: boolean;
  pid?: number;
  brokers: string[];
  acceptsClients: boolean;
}

interface Layout {
  root: string;
  dataDir: string;
  metaFile: string;
  logFile: string;
  pidFile: string;
  propsFile: string;
  port: number;
  controllerPort: number;
  heapMb: number;
  brokers: string[];
  logger: LauncherLogger;
}

const silentLogger: LauncherLogger = { info: () => {}, warn: () => {} };

function layoutOf(opts: BrokerOptions): Layout {
  const root = join(resolve(opts.dataDir), 'kafka');
  const port = opts.port ?? 9092;
  return {
    root,
    dataDir: join(root, 'data'),
    metaFile: join(root, 'data', 'meta.properties'),
    logFile: join(root, 'logs', 'broker.log'),
    pidFile: join(root, 'broker.pid'),
    propsFile: join(root, 'server.properties'),
    port,
    controllerPort: opts.controllerPort ?? port + 1,
    heapMb: opts.heapMb ?? 512,
    brokers: [`${HOST}:${port}`],
    logger: opts.logger ?? silentLogger,
  };
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** Copies the broker jars into infra/kafka/lib with Maven, unless they are already there. */
export async function fetchBrokerJars(logger: LauncherLogger = silentLogger): Promise<void> {
  if (hasBrokerJars()) return;
  logger.info({ pom: POM_FILE }, 'fetching Kafka broker jars with Maven');
  try {
    await execFileAsync('mvn', ['-B', '-q', '-f', POM_FILE, 'package'], {
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    throw new Error(
      `fetching the Kafka broker jars failed: \`mvn -B -q -f ${POM_FILE} package\` needs Maven (mvn) ` +
        `and Java 17+ on PATH and access to Maven Central.\n${processErrorDetail(err)}`,
    );
  }
  if (!hasBrokerJars()) {
    throw new Error(`Maven finished but ${LIB_DIR} still has no kafka_2.13 jar; check ${POM_FILE}`);
  }
}

/**
 * Starts the local broker unless this data dir's broker is already up. The JVM is detached, so it
 * outlives the calling process; `stopBroker` ends it.
 */
export async function startBroker(opts: BrokerOptions): Promise<StartResult> {
  const l = layoutOf(opts);
  const existing = livePid(l);
  if (existing !== undefined) {
    // Possibly still starting in another invocation: wait for it rather than spawn a second JVM
    // on the same log dirs (it would fail on the directory lock anyway).
    await waitUntilReady(l, existing);
    return { brokers: l.brokers, alreadyRunning: true, pid: existing };
  }
  rmSync(l.pidFile, { force: true });

  await assertPortsFree(l);
  await fetchBrokerJars(l.logger);
  mkdirSync(join(l.root, 'logs'), { recursive: true });
  writeFileSync(l.propsFile, serverProperties(l));
  await formatStorageOnce(l);

  const startedAt = Date.now();
  const pid = await spawnBroker(l);
  writeFileSync(l.pidFile, `${pid}\n`);
  try {
    await waitUntilReady(l, pid);
  } catch (err) {
    await terminate(pid, l.logger);
    rmSync(l.pidFile, { force: true });
    throw err;
  }
  l.logger.info({ pid, brokers: l.brokers, ms: Date.now() - startedAt }, 'kafka broker ready');
  return { brokers: l.brokers, alreadyRunning: false, pid };
}

/** Stops the broker (data is kept). Returns false when nothing was running. */
export async function stopBroker(opts: BrokerOptions): Promise<boolean> {
  const l = layoutOf(opts);
  const pid = livePid(l);
  if (pid === undefined) {
    rmSync(l.pidFile, { force: true });
    return false;
  }
  await terminate(pid, l.logger);
  rmSync(l.pidFile, { force: true });
  return true;
}

/** Stops the broker and deletes `<dataDir>/kafka` (topics, offsets, cluster id, logs). */
export async function resetBroker(opts: BrokerOptions): Promise<void> {
  await stopBroker(opts);
  rmSync(layoutOf(opts).root, { recursive: true, force: true });
}

export async function brokerStatus(opts: BrokerOptions): Promise<BrokerStatus> {
  const l = layoutOf(opts);
  const pid = livePid(l);
  if (pid === undefined) return { running: false, brokers: l.brokers, acceptsClients: false };
  return { running: true, pid, brokers: l.brokers, acceptsClients: await acceptsClients(l) };
}

// ---------------------------------------------------------------------------------------------
// Jars, properties, storage
// ---------------------------------------------------------------------------------------------

function hasBrokerJars(): boolean {
  if (!existsSync(LIB_DIR)) return false;
  return readdirSync(LIB_DIR).some((f) => f.startsWith('kafka_2.13-') && f.endsWith('.jar'));
}

function serverProperties(l: Layout): string {
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.bootstrap.servers': `${HOST}:${l.controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${l.port},CONTROLLER://${HOST}:${l.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${l.port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': l.dataDir,
    // A single node: internal topics can only have one replica, or consumer groups never find
    // a coordinator.
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // Tests and local runs join groups constantly; the default 3 s delay only slows them down.
    'group.initial.rebalance.delay.ms': 0,
    // Topics are created explicitly (with their partition counts), never by a typo.
    'auto.create.topics.enable': false,
    'num.partitions': 1,
  };
  const lines = Object.entries(props).map(([k, v]) => `${k}=${v}`);
  return `# Written by @nanobill/kafka-broker on every start; edits are overwritten.\n${lines.join('\n')}\n`;
}

/** Formats KRaft storage the first time only: re-formatting would lose every topic. */
async function formatStorageOnce(l: Layout): Promise<void> {
  if (existsSync(l.metaFile)) return;
  const clusterId = await randomClusterId();
  l.logger.info({ clusterId, dir: l.dataDir }, 'formatting KRaft storage');
  await runJavaTool([
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    l.propsFile,
    '--standalone',
  ]);
}

async function randomClusterId(): Promise<string> {
  const out = await runJavaTool(['kafka.tools.StorageTool', 'random-uuid']);
  // stdout may also carry log lines; the id is the 22-character base64url line.
  const id = out
    .split('\n')
    .map((s) => s.trim())
    .find((s) => /^[A-Za-z0-9_-]{22}$/.test(s));
  if (!id) throw new Error(`StorageTool random-uuid printed no cluster id:\n${out}`);
  return id;
}

async function runJavaTool(args: string[]): Promise<string> {
  const jvm = ['-Xmx256m', `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`, '-cp', join(LIB_DIR, '*')];
  try {
    const { stdout } = await execFileAsync('java', [...jvm, ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    throw new Error(`\`java ... ${args.join(' ')}\` failed.\n${processErrorDetail(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Process management
// ---------------------------------------------------------------------------------------------

async function spawnBroker(l: Layout): Promise<number> {
  rotateLogIfLarge(l.logFile);
  const out = openSync(l.logFile, 'a');
  try {
    writeFileSync(out, `\n--- ${new Date().toISOString()} starting kafka.Kafka ${l.propsFile}\n`);
    const child = spawn(
      'java',
      [
        `-Xmx${l.heapMb}m`,
        `-Xms${Math.min(l.heapMb, 256)}m`,
        `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
        '-cp',
        join(LIB_DIR, '*'),
        'kafka.Kafka',
        l.propsFile,
      ],
      // Detached with its own session and no pipes to us, so the broker survives the parent.
      { detached: true, stdio: ['ignore', out, out] },
    );
    const pid = await spawned(child);
    child.unref();
    return pid;
  } finally {
    closeSync(out);
  }
}

function spawned(child: ChildProcess): Promise<number> {
  return new Promise((resolvePid, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new Error('`java` was not found on PATH; the Kafka 4 broker needs Java 17+')
          : err,
      );
    });
    child.once('spawn', () => resolvePid(child.pid as number));
  });
}

function rotateLogIfLarge(file: string): void {
  if (existsSync(file) && statSync(file).size > MAX_LOG_BYTES) renameSync(file, `${file}.1`);
}

/** The pid from the pid file, if that process is alive and is this data dir's broker. */
function livePid(l: Layout): number | undefined {
  if (!existsSync(l.pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(l.pidFile, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (!isAlive(pid)) return undefined;
  // Pids are reused: after a reboot the file may name some unrelated process.
  const cmdline = readProc(pid, 'cmdline');
  if (cmdline === undefined) return pid; // no /proc (macOS): trust the pid file
  return cmdline.includes('kafka.Kafka') && cmdline.includes(l.propsFile) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // An exited child that its parent has not reaped yet still answers signal 0.
  const stat = readProc(pid, 'stat');
  return stat === undefined || stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

async function terminate(pid: number, logger: LauncherLogger): Promise<void> {
  signal(pid, 'SIGTERM');
  if (!(await waitForExit(pid, STOP_TIMEOUT_MS))) {
    logger.warn(
      { pid },
      `kafka broker did not exit ${STOP_TIMEOUT_MS / 1000}s after SIGTERM; killing`,
    );
    signal(pid, 'SIGKILL');
    if (!(await waitForExit(pid, KILL_TIMEOUT_MS))) {
      throw new Error(`kafka broker pid ${pid} is still alive after SIGKILL`);
    }
  }
  await waitForReap(pid);
}

/**
 * When this process spawned the broker (tests, a dev supervisor), the exited JVM stays a zombie
 * until Node's event loop reaps it; give it that turn so the pid is really gone on return.
 */
async function waitForReap(pid: number): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(20);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(POLL_MS);
  }
  return !isAlive(pid);
}

// ---------------------------------------------------------------------------------------------
// Readiness
// ---------------------------------------------------------------------------------------------

async function waitUntilReady(l: Layout, pid: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      throw new Error(`kafka broker (pid ${pid}) exited during start-up.\n${logTail(l)}`);
    }
    if (await acceptsClients(l)) return;
    await sleep(500);
  }
  throw new Error(
    `kafka broker (pid ${pid}) did not accept clients on ${l.brokers.join(',')} ` +
      `within ${READY_TIMEOUT_MS / 1000}s.\n${logTail(l)}`,
  );
}

/** "Accepts clients" means a real client round trip, not just an open port. */
async function acceptsClients(l: Layout): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'nanobill-kafka-launcher',
    brokers: l.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function assertPortsFree(l: Layout): Promise<void> {
  for (const port of [l.port, l.controllerPort]) {
    if (await portInUse(port)) {
      throw new Error(
        `${HOST}:${port} is already in use by a process that is not the broker of ${l.root} ` +
          `(no live pid in ${l.pidFile}). Stop that process or choose another port (KAFKA_PORT).`,
      );
    }
  }
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: HOST, port });
    const finish = (inUse: boolean) => {
      socket.destroy();
      done(inUse);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function logTail(l: Layout): string {
  if (!existsSync(l.logFile)) return `(no log at ${l.logFile})`;
  const lines = readFileSync(l.logFile, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES);
  return `Last ${lines.length} lines of ${l.logFile}:\n${lines.join('\n')}`;
}

function processErrorDetail(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
  if (e.code === 'ENOENT') return `${e.path ?? 'the command'} was not found on PATH.`;
  const output = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim();
  const tail = output.split('\n').slice(-LOG_TAIL_LINES).join('\n');
  return tail || e.message;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
