/**
 * Reads a Kubernetes LIST response as it arrives: each element of its top-level `items` array is
 * parsed on its own and handed on as soon as its closing brace arrives, so a page is never held
 * whole — neither its text nor its objects (a page of 1,000 pull Secrets is ~9 MB of JSON). The
 * rest of the document (kind, `metadata.continue`) is kept and parsed at the end, with the items
 * array left empty.
 *
 * Only string boundaries and nesting are tracked here; every element and the rest are parsed by
 * JSON.parse, so malformed JSON is still an error.
 */

/** The answer is not a Kubernetes LIST (JSON.parse's SyntaxError may come too). */
export class NotAListError extends Error {
  override readonly name = "NotAListError";
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
/** Space, tab, line feed, carriage return: what JSON allows between tokens. */
const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Where the reader is: before/after the items array, between its elements, inside one. */
const Place = { Outside: 0, BetweenItems: 1, InItem: 2 } as const;
type Place = (typeof Place)[keyof typeof Place];

export class ListStream<T> {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The string being read at depth 1 (a top-level key or a short top-level value). */
  private topString: string | undefined;
  /** The last complete string read at depth 1: the key of the value that follows it. */
  private lastTopString = "";
  private place: Place = Place.Outside;
  private sawItems = false;
  /** The document outside the items array's elements. */
  private readonly rest: string[] = [];
  /** The element being read, in pieces. */
  private readonly item: string[] = [];

  constructor(private readonly onItem: (item: T) => void) {}

  /** Reads the next piece of the response; hands on every element it completes. Throws on a document that is not a LIST. */
  feed(chunk: string): void {
    // The start of the part of `chunk` not yet copied to `rest` or `item`.
    let from = 0;
    let topFrom = this.topString !== undefined ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.topString !== undefined) {
            this.lastTopString = this.topString + chunk.slice(topFrom, i);
            this.topString = undefined;
            topFrom = -1;
          }
        }
        continue;
      }
      if (this.place === Place.BetweenItems && this.depth === 2) {
        // Between two elements only blanks, commas, the next element or the array's end.
        if (c === OPEN_BRACE) {
          this.place = Place.InItem;
          from = i;
        } else if (c === CLOSE_BRACKET) {
          this.place = Place.Outside;
          from = i;
        } else if (!isBlank(c) && c !== COMMA) throw new NotAListError("an element of the LIST's items is not an object");
      }
      if (c === QUOTE) {
        this.inString = true;
        if (this.depth === 1 && this.place === Place.Outside) {
          this.topString = "";
          topFrom = i + 1;
        }
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (c === OPEN_BRACKET && this.depth === 1 && this.place === Place.Outside && this.lastTopString === "items" && !this.sawItems) {
          // The items array: `rest` keeps its brackets, the elements go one by one.
          this.sawItems = true;
          this.place = Place.BetweenItems;
          this.rest.push(chunk.slice(from, i + 1));
          from = i + 1;
        }
        this.depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        this.depth--;
        if (this.place === Place.InItem && this.depth === 2) {
          this.item.push(chunk.slice(from, i + 1));
          const text = this.item.join("");
          this.item.length = 0;
          this.place = Place.BetweenItems;
          from = i + 1;
          this.onItem(JSON.parse(text) as T);
        }
      }
    }
    if (this.topString !== undefined) this.topString += chunk.slice(topFrom);
    if (this.place === Place.Outside) this.rest.push(chunk.slice(from));
    else if (this.place === Place.InItem) this.item.push(chunk.slice(from));
  }

  /** The document without its items (`{…, "items": []}`), parsed. Throws when it is not a LIST. */
  end(): { metadata?: { continue?: unknown } } {
    if (!this.sawItems || this.place !== Place.Outside || this.depth !== 0) throw new NotAListError("the answer is not a complete LIST (no items array)");
    const value = JSON.parse(this.rest.join("")) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new NotAListError("the answer is not a JSON object");
    return value;
  }
}
