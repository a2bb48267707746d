/**
 * /whisk.system/utils/sort: sorts an array of lines in ascending string order.
 *
 * @param {object} params
 * @param {string[]} [params.lines] lines to sort (default: empty array)
 * @returns {{length: number, lines: string[]}|{error: string}} the number of
 *   lines and the sorted lines
 */
function main(params) {
  const lines = params.lines === undefined ? [] : params.lines;
  if (!Array.isArray(lines)) {
    return { error: "Parameter 'lines' must be an array." };
  }
  const sorted = lines.slice().sort();
  return { length: sorted.length, lines: sorted };
}
