/** Text from a file or the cluster, made safe to print on a terminal. */

/** C0 and C1 control characters but newline and tab: a status string must not drive the user's terminal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Whether the text holds such a control character. */
export const hasControl = (text: string) => new RegExp(CONTROL.source).test(text);

/** Controls shown as \\uXXXX. */
export const printable = (text: string) =>
  text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
