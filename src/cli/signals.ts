/**
 * Ctrl-C (SIGINT) or SIGTERM while sparkbot is still loading ends it at once, quietly, with exit
 * code 0. Imported first by src/cli.ts, so that this holds from the first moment; a command that
 * has something to stop takes the signals over ({@link takeOverSignals}, from `Shutdown.listen`).
 */
const leave = () => process.exit(0);
process.on('SIGINT', leave);
process.on('SIGTERM', leave);

export function takeOverSignals(): void {
  process.off('SIGINT', leave);
  process.off('SIGTERM', leave);
}
