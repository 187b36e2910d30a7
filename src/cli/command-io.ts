/** What a subcommand may do to the outside world; tests pass a recording double. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  readFile(path: string): string;
}
