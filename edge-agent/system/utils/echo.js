/**
 * /whisk.system/utils/echo: returns its input parameters unchanged.
 *
 * Useful as the first or last step of a sequence, or to inspect what a trigger
 * or a web request delivers to an action.
 *
 * @param {object} params any parameters
 * @returns {object} the same parameters
 */
function main(params) {
  return params || {};
}
