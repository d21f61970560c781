import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** A shorter password is a configuration mistake, refused at start. */
export const MIN_PASSWORD_LENGTH = 16;
/** Under the data directory when no password is configured: created once, readable by its owner. */
export const PASSWORD_FILE_NAME = 'chdb-server-password';

export interface ServerPassword {
  password: string;
  /** Where an operator finds it, for messages: a variable's name or a file's path, never the value. */
  from: string;
  /** The file it is kept in, when the server generated it or read it from one. */
  file: string | undefined;
}

/**
 * The server's password: `password` (NANOBILL_CHDB_SERVER_PASSWORD), else the file `passwordFile`
 * (NANOBILL_CHDB_SERVER_PASSWORD_FILE, a mounted secret), else `<dataDir>/chdb-server-password`,
 * generated on the first start (mode 0600) and read on later ones, so that clients configured
 * once keep working.
 */
export function serverPassword(options: {
  password: string | undefined;
  passwordFile: string | undefined;
  dataDir: string;
}): ServerPassword {
  if (options.password !== undefined) {
    return {
      password: checked(options.password, 'NANOBILL_CHDB_SERVER_PASSWORD'),
      from: 'NANOBILL_CHDB_SERVER_PASSWORD',
      file: undefined,
    };
  }
  if (options.passwordFile !== undefined) {
    const password = readFileSync(options.passwordFile, 'utf8').replace(/\r?\n$/, '');
    return {
      password: checked(password, options.passwordFile),
      from: options.passwordFile,
      file: options.passwordFile,
    };
  }
  const file = join(options.dataDir, PASSWORD_FILE_NAME);
  return { password: checked(generatedPassword(file, options.dataDir), file), from: file, file };
}

function checked(password: string, from: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new Error(
      `the chdb server password (${from}) must have at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
  return password;
}

/** URL-safe, so it goes into `http://default:<password>@host:port` as it is. */
function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

function generatedPassword(file: string, dataDir: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const password = newPassword();
  try {
    // O_EXCL: never through a link planted at that path, and never over another process's file.
    writeFileSync(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
    return password;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readOwnSecret(file);
}

/** The kept password, if the file is still what the server created: a private file of its own. */
function readOwnSecret(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new Error(`${file} is a symbolic link: remove it, and the server creates a new one`);
    }
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${file} is not a regular file`);
    if (process.getuid !== undefined && stat.uid !== process.getuid()) {
      throw new Error(
        `${file} belongs to another user: remove it, and the server creates a new one`,
      );
    }
    if ((stat.mode & 0o077) !== 0) {
      throw new Error(`${file} can be read by other users: chmod 600 it`);
    }
    return readFileSync(fd, 'utf8').replace(/\r?\n$/, '');
  } finally {
    closeSync(fd);
  }
}
