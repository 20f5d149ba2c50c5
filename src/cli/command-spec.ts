/** The shape of one command and its flags, shared by the command table and the flag lists it uses. */
export interface OptionSpec {
  readonly flags: string;
  readonly description: string;
  readonly default?: string | boolean;
  /** Repeatable: collects every value into an array. */
  readonly repeat?: boolean;
  /** Accepted but not listed in --help (a habit from the old scripts, answered with advice). */
  readonly hidden?: boolean;
}

export interface CommandSpec {
  /** Space-separated path, e.g. "users add". */
  readonly path: string;
  readonly args?: string;
  readonly description: string;
  readonly options?: readonly OptionSpec[];
  readonly examples: readonly string[];
  /** Module under ./commands, without extension. */
  readonly module: string;
  /** May create the database (init, users import, restore, keys create); every other command refuses a missing one and creates nothing. */
  readonly createsStore?: true;
}
