import { fetchView } from './status-client.js';
import { renderStatusTable } from './status-table.js';

/** Redraw period of `corral status --watch`: the primary samples every 2 s too. */
export const WATCH_INTERVAL_MS = 2000;

export interface StatusCommandOptions {
  readonly url: string;
  readonly watch: boolean;
  readonly json: boolean;
}

/** Where the command writes, and what it knows of its terminal. */
export interface StatusOutput {
  write(text: string): void;
  readonly isTTY: boolean;
  readonly columns: number;
  readonly env: NodeJS.ProcessEnv;
}

/** Colour only for a person at a terminal who has not opted out (https://no-color.org: any non-empty NO_COLOR). */
export function useColour(out: StatusOutput): boolean {
  return out.isTTY && !out.env.NO_COLOR && out.env.TERM !== 'dumb';
}

/** Clear the screen and home the cursor, so each frame replaces the last. */
const CLEAR = '\x1b[H\x1b[2J';

/**
 * `corral status`: the view once (table or JSON), or with `--watch` every WATCH_INTERVAL_MS until
 * `stop` resolves (Ctrl-C). Rejects with StatusUnreachableError when the first read fails; once
 * watching, a failed read is shown in place of the table and the next one tried.
 */
export async function runStatusCommand(opts: StatusCommandOptions, out: StatusOutput, stop: Promise<void> = new Promise(() => {})): Promise<void> {
  const colour = useColour(out);
  const frame = async (): Promise<string> => {
    const view = await fetchView(opts.url);
    return opts.json ? `${JSON.stringify(view, null, opts.watch ? 0 : 2)}\n` : renderStatusTable(view, { colour, width: out.columns });
  };
  const first = await frame();
  if (!opts.watch) {
    out.write(first);
    return;
  }
  // A table redraws in place on a terminal; JSON (and a pipe) gets one document after another.
  const redraw = out.isTTY && !opts.json;
  out.write(redraw ? CLEAR + first : first);
  let stopped = false;
  void stop.then(() => (stopped = true));
  while (!stopped) {
    let timer: NodeJS.Timeout | undefined;
    const tick = await Promise.race([new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), WATCH_INTERVAL_MS))), stop.then(() => false)]);
    clearTimeout(timer);
    if (!tick || stopped) break;
    let text: string;
    try {
      text = await frame();
    } catch (err) {
      text = `${(err as Error).message}; trying again every ${WATCH_INTERVAL_MS / 1000} s\n`;
    }
    out.write(redraw ? CLEAR + text : opts.json ? text : `\n${text}`);
  }
}
