/**
 * /whisk.system/utils/split: splits a string into an array of lines.
 *
 * @param {object} params
 * @param {string} params.payload the text to split
 * @param {string} [params.separator] separator (default "\n")
 * @returns {{lines: string[]}|{error: string}} the pieces of `payload`
 */
function main(params) {
  if (typeof params.payload !== "string") {
    return { error: "Parameter 'payload' must be a string." };
  }
  const separator = params.separator === undefined ? "\n" : params.separator;
  if (typeof separator !== "string") {
    return { error: "Parameter 'separator' must be a string." };
  }
  return { lines: params.payload.split(separator) };
}
