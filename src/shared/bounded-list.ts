/**
 * Values named in a refusal, bounded: at most a few shown, each cut to a length and masked as
 * configuration errors mask them (a value that looks like a credential shows only its length),
 * then how many more. A request naming 10,000 bad values gets a message of a few hundred bytes.
 */
import { showValue } from "./redact";

/** How many values a refusal shows, and how many characters of each. */
export const REFUSAL_SHOWN_VALUES = 5;
export const REFUSAL_VALUE_CHARACTERS = 64;

/**
 * One value as a refusal shows it: masked when it looks like a credential, else quoted (unless
 * `quoted` is false: names such as clusters read better bare) and cut.
 */
export function shownValue(value: string, options: { quoted?: boolean } = {}): string {
  const masked = showValue(value);
  if (masked !== JSON.stringify(value)) return masked;
  const cut = value.length > REFUSAL_VALUE_CHARACTERS ? value.slice(0, REFUSAL_VALUE_CHARACTERS) : value;
  const shown = options.quoted === false ? cut : JSON.stringify(cut);
  return cut === value ? shown : `${shown}… (${value.length} characters)`;
}

/** `"a", "b", "c" and 997 more`: the first few values shown, then the count of the rest. */
export function boundedList(values: readonly string[], options: { quoted?: boolean } = {}): string {
  const shown = values
    .slice(0, REFUSAL_SHOWN_VALUES)
    .map((v) => shownValue(v, options))
    .join(", ");
  const rest = values.length - REFUSAL_SHOWN_VALUES;
  return rest > 0 ? `${shown} and ${rest} more` : shown;
}
