/**
 * Preloaded into every test process (`--import`): a test file's process reports its results to the
 * runner through its stdout, a pipe, which Node writes asynchronously on Linux. `--test-force-exit` ends
 * the process as soon as its tests are done, and whatever was still queued — a tail of passing results,
 * sometimes a failure's name and error — never reached the runner, so the counts came out short and
 * varied from run to run (nodejs/node#64833). Blocking writes leave nothing queued.
 */
const handle = (process.stdout as unknown as { _handle?: { setBlocking?: (blocking: boolean) => void } })._handle;
handle?.setBlocking?.(true);
