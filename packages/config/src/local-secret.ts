import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** Directories that hold secrets: their owner only. */
const PRIVATE_DIR_MODE = 0o700;
/** Files that hold secrets: readable and writable by their owner only. */
const PRIVATE_FILE_MODE = 0o600;

/**
 * A secret of the local stack kept in `<dataDir>/<name>` (the secrets key, the operations
 * webhook's secret, the chdb server's password): read when the file exists, else generated once.
 *
 * Created with mode 0600 in a directory created 0700, written whole under a temporary name and
 * then linked into place, which fails when the file exists: processes starting together on one
 * data directory all end up with the one file the first of them linked, never a half-written one.
 * Read only if it is still what nanobill made: a regular file of this user that nobody else can
 * read, never through a symbolic link planted at its path.
 */
export function localSecret(dataDir: string, name: string, generate: () => string): string {
  const file = join(dataDir, name);
  const existing = readPrivateFile(file);
  if (existing !== undefined) return existing;
  mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const secret = generate();
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(draft, `${secret}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  try {
    linkSync(draft, file);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readPrivateFile(file)!;
  } finally {
    rmSync(draft, { force: true });
  }
}

/** The trimmed content of a private file of this user; undefined when there is none. */
export function readPrivateFile(file: string): string | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: never through a link planted at that path.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') {
      throw new Error(`${file} is a symbolic link: remove it, and a new secret is created`);
    }
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${file} is not a regular file`);
    if (process.getuid !== undefined && stat.uid !== process.getuid()) {
      throw new Error(`${file} belongs to another user: remove it, and a new secret is created`);
    }
    if ((stat.mode & 0o077) !== 0) {
      throw new Error(`${file} can be read by other users: chmod 600 it`);
    }
    return readFileSync(fd, 'utf8').trim();
  } finally {
    closeSync(fd);
  }
}
