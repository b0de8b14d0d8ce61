import { api } from './api.ts';

/*
 * A request started before the page that needs it has mounted (the Now page's data while the
 * sign-in is still being checked): taken once by the first load of that path.
 */
const started = new Map<string, Promise<unknown>>();

export function prefetch(path: string): void {
  const request = api.get(path);
  request.catch(() => undefined); // a failure is the taker's to report
  started.set(path, request);
}

export function takePrefetched<T>(path: string): Promise<T> | null {
  const request = started.get(path);
  started.delete(path);
  return (request as Promise<T> | undefined) ?? null;
}
