/**
 * /whisk.system/utils/cat: concatenates an array of lines into one string.
 *
 * @param {object} params
 * @param {string[]} [params.lines] lines to join (default: empty array)
 * @returns {{lines: string[], payload: string}|{error: string}} the lines and
 *   `payload`, the lines joined with "\n"
 */
function main(params) {
  const lines = params.lines === undefined ? [] : params.lines;
  if (!Array.isArray(lines)) {
    return { error: "Parameter 'lines' must be an array." };
  }
  return { lines: lines, payload: lines.join("\n") };
}
