// commander's Command, with the errors a user needs first: a misspelled option (`--nmae`) is reported as unknown
// before commander would complain that the option it was meant to be (`--name`) is missing.
import { Command, InvalidArgumentError } from 'commander';

export class StrictCommand extends Command {
  override createCommand(name?: string): StrictCommand {
    return new StrictCommand(name);
  }

  override parseOptions(argv: string[]): { operands: string[]; unknown: string[] } {
    const parsed = super.parseOptions(argv);
    // Only where the options end (a command that runs): a parent passes its unknown options on to its subcommand.
    // --help is among the unknown here: commander answers it after this.
    const unknownOption = parsed.unknown.find((a) => a.startsWith('-') && a !== '--help' && a !== '-h');
    // commander's own report (with its "Did you mean --name?"), which it keeps out of its typings.
    if (this.commands.length === 0 && unknownOption !== undefined) (this as unknown as { unknownOption(flag: string): never }).unknownOption(unknownOption);
    return parsed;
  }
}

/** An option value that must be a whole number from 1 up. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number from 1 up');
  return n;
}
