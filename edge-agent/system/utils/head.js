/**
 * /whisk.system/utils/head: keeps the first `num` lines of an array.
 *
 * @param {object} params
 * @param {string[]} [params.lines] input lines (default: empty array)
 * @param {number} [params.num] how many lines to keep (default 1), a
 *   non-negative integer
 * @returns {{lines: string[]}|{error: string}} the first `num` lines
 */
function main(params) {
  const lines = params.lines === undefined ? [] : params.lines;
  if (!Array.isArray(lines)) {
    return { error: "Parameter 'lines' must be an array." };
  }
  const num = params.num === undefined ? 1 : params.num;
  if (typeof num !== "number" || !Number.isInteger(num) || num < 0) {
    return { error: "Parameter 'num' must be a non-negative integer." };
  }
  return { lines: lines.slice(0, num) };
}
