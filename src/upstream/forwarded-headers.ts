/**
 * The header lines of an upstream response that a proxy passes on, kept as the text corral will
 * write: each line is `\r\nName: value` as it arrived (latin1, one char per byte), so the whole
 * set appends to a status line as it is (server/response.ts). One instance per response parser,
 * refilled by each head it parses.
 *
 * Why text and not a Buffer per name and value: the response head goes to uWS in one call, and
 * every Buffer view costs a typed-array allocation (Node's Buffer#subarray more than that), while
 * the parser already holds the head as a latin1 string: a line is one slice of it. (Copying the
 * bytes instead, in a JavaScript loop, measured ~35 instructions per byte.)
 */
export class ForwardedHeaders {
  /** The lines, each after its CRLF. Replaced by the owning parser's next head. */
  text: string;
  /** How many lines. */
  count: number;

  constructor() {
    this.text = '';
    this.count = 0;
  }

  clear(): void {
    this.text = '';
    this.count = 0;
  }

  /** Appends a whole header line (without its line end), as it arrived. */
  append(line: string): void {
    this.text += `\r\n${line}`;
    this.count++;
  }

  /** The lines as [name, value, …] (values without surrounding whitespace): for tests and diagnostics. */
  toPairs(): string[] {
    const pairs: string[] = [];
    for (const line of this.text.split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      pairs.push(line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, ''));
    }
    return pairs;
  }
}
