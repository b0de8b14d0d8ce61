/** One Server-Sent Events message. */
export interface ServerSentEvent {
  /** The `event:` field; "message" when absent. */
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

/**
 * Parses a text/event-stream body (WHATWG HTML §9.2) into messages; comments (heartbeats)
 * are skipped. Ends when the stream ends.
 */
export async function* parseServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += value;
      // Lines end with \n, \r\n or \r; keep a trailing \r until the next chunk shows whether \n follows.
      const lines = pending.split(/\r\n|\n|\r(?=[^\n])/);
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let text = colon === -1 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'event') event = text;
        else if (field === 'data') data.push(text);
        else if (field === 'id' && !text.includes('\0')) id = text;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
