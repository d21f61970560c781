import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localSecret } from '@nanobill/config';

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
  return { password: checked(generatedPassword(options.dataDir), file), from: file, file };
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

function generatedPassword(dataDir: string): string {
  return localSecret(dataDir, PASSWORD_FILE_NAME, newPassword);
}
