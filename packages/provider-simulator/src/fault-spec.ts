import { validateFault, type Fault } from './faults.js';

/** The environment variable `nanobill simulate providers` reads its faults from (besides --faults). */
export const FAULTS_ENV = 'NANOBILL_SIM_FAULTS';
/** Environment variables the simulators read besides those of `loadConfig`. */
export const SIMULATE_ENV = [FAULTS_ENV] as const;

/** A fault specification that cannot be used: the message says what is wrong. */
export class FaultSpecError extends Error {}

/**
 * The fault specification `{"<provider>" | "*": Fault[]}` (`*`: every provider; a provider's own
 * entry replaces it), each fault checked as the simulator checks it.
 */
export function parseFaults(
  text: string | undefined,
  providers: readonly string[],
): Map<string, Fault[]> {
  const faults = new Map<string, Fault[]>();
  if (text === undefined || text.trim() === '') return faults;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FaultSpecError(`faults: not JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FaultSpecError('faults: expected {"<provider>" or "*": [fault, ...]}');
  }
  const entries = Object.entries(json as Record<string, unknown>);
  for (const [provider, list] of entries) {
    if (provider !== '*' && !providers.includes(provider)) {
      throw new FaultSpecError(
        `faults: unknown provider ${provider} (known: ${providers.join(', ')})`,
      );
    }
    if (!Array.isArray(list)) throw new FaultSpecError(`faults: ${provider}: expected an array`);
    for (const fault of list) {
      if (typeof fault !== 'object' || fault === null) {
        throw new FaultSpecError(`faults: ${provider}: ${JSON.stringify(fault)} is not a fault`);
      }
      try {
        validateFault(fault as Fault);
      } catch (error) {
        throw new FaultSpecError(`faults: ${provider}: ${(error as Error).message}`);
      }
    }
  }
  const all = entries.find(([provider]) => provider === '*')?.[1] as Fault[] | undefined;
  for (const provider of providers) {
    const own = (json as Record<string, Fault[] | undefined>)[provider];
    const list = own ?? all;
    if (list !== undefined && list.length > 0) faults.set(provider, list);
  }
  return faults;
}
