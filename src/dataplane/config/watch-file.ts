/**
 * Calls back when a file's content changes. Uses fs.watch on the parent directory (editors and
 * Kubernetes ConfigMap updates replace files by rename, which a watch on the file itself
 * misses) plus a slow stat poll as a safety net; duplicate notifications are debounced and
 * unchanged content is filtered by the caller's hash.
 */
import { watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

export function watchFileContent(
  path: string,
  onChange: () => void,
  options: { debounceMs?: number; pollMs?: number } = {},
): FileWatch {
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
    timer.unref();
  };
  const name = basename(path);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      // ConfigMap mounts swap a `..data` symlink, not the file name itself.
      if (file === null || file === name || file.startsWith('..')) fire();
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  watchFile(path, { interval: options.pollMs ?? 2000, persistent: false }, fire);
  return {
    close() {
      if (timer !== undefined) clearTimeout(timer);
      watcher?.close();
      unwatchFile(path, fire);
    },
  };
}
