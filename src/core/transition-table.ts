/**
 * A state machine written down as data: for each state, the states it may move to. The owner
 * module of a state machine declares each move its functions make with {@link checkedMove}, so
 * a move the table does not allow is refused by the compiler (where the states are literals)
 * and, at the latest, when the module loads.
 */
export type TransitionTable<State extends string> = { readonly [From in State]: readonly State[] };

/** The states of `Table` from which the table allows a move into `To`. */
export type SourcesOf<Table extends TransitionTable<string>, To extends string> = {
  [From in keyof Table]: To extends Table[From][number] ? From : never;
}[keyof Table] &
  string;

/** One move a lifecycle function makes: from any of `from` into `to`. */
export interface Move<State extends string> {
  readonly from: readonly State[];
  readonly to: State;
}

/**
 * Checks a move against the table and returns it; throws, naming the edge, when the table does
 * not allow one of its `from` states into `to` (a move is declared at module load, so a wrong
 * one stops the process from starting rather than writing a status nobody planned for).
 */
export function checkedMove<State extends string>(table: TransitionTable<State>, from: readonly State[], to: State): Move<State> {
  if (from.length === 0) throw new Error(`a move into ${to} must come from some state`);
  for (const source of from) {
    if (!table[source].includes(to)) throw new Error(`the transition table does not allow ${source} → ${to}`);
  }
  return { from: [...from], to };
}

/** Every edge of a table, as `FROM → TO` strings (for tests that walk it). */
export function tableEdges<State extends string>(table: TransitionTable<State>): string[] {
  return (Object.keys(table) as State[]).flatMap((from) => table[from].map((to) => `${from} → ${to}`));
}

/** The states reachable from `starts` by following the table. */
export function reachableStates<State extends string>(table: TransitionTable<State>, starts: readonly State[]): Set<State> {
  const reached = new Set<State>(starts);
  const pending = [...starts];
  for (let state = pending.pop(); state !== undefined; state = pending.pop()) {
    for (const next of table[state]) {
      if (!reached.has(next)) {
        reached.add(next);
        pending.push(next);
      }
    }
  }
  return reached;
}
