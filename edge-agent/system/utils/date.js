/**
 * /whisk.system/utils/date: returns the current date and time.
 *
 * @returns {{date: string}} the current time as an ISO 8601 string in UTC
 *   (e.g. "2024-05-01T12:00:00.000Z")
 */
function main() {
  return { date: new Date().toISOString() };
}
