// A small HTTP service that streams GMAI-VL-R1's reasoning about an uploaded image.
//
//   node examples/http-server.mjs [MODEL_DIR] [PORT]
//   curl -N -X POST 'http://127.0.0.1:8080/ask?question=Is%20there%20a%20fracture%3F&options=yes,no' \
//        --data-binary @xray.png
//
// The model runs in a worker thread (startModelServer), so this process's event loop only
// relays bytes; concurrent requests are decoded together. The response is a stream of
// server-sent events: `token` events with text as it is generated, then one `answer` event.
import { createServer } from 'node:http';
import { startModelServer } from 'gmai-vl-r1';

export async function createAskService(modelDir, { maxNewTokens = 256 } = {}) {
  const model = await startModelServer(modelDir);
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'POST' || url.pathname !== '/ask') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('POST /ask?question=…&options=a,b,c with the image as the body\n');
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const image = Buffer.concat(chunks);
    const question = url.searchParams.get('question') ?? '';
    const options = (url.searchParams.get('options') ?? '').split(',').filter(Boolean);
    const abort = new AbortController();
    res.on('close', () => { if (!res.writableFinished) abort.abort(new Error('client went away')); });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    try {
      const result = await model.askImage({
        image, question, options, signal: abort.signal,
        generation: { maxNewTokens, temperature: 0.7, topP: 0.9 },
        onToken: (text) => { if (text) send('token', text); },
      });
      send('answer', { letter: result.letter, answer: result.answer, formatOk: result.formatOk, tokens: result.tokens.length, timings: result.timings });
    } catch (e) {
      send('error', { message: e.message });
    }
    res.end();
  });
  return {
    server,
    listen: (port = 0, host = '127.0.0.1') => new Promise((resolve) => server.listen(port, host, () => resolve(server.address().port))),
    close: async () => { await new Promise((r) => server.close(r)); await model.close(); },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) { console.error('usage: node examples/http-server.mjs MODEL_DIR [PORT]'); process.exit(2); }
  const service = await createAskService(dir);
  const port = await service.listen(Number(process.argv[3] ?? 8080));
  console.log(`listening on http://127.0.0.1:${port}/ask`);
}
