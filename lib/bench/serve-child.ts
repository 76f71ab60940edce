// The server side of `gmai bench serve`, in its own process so that its event-loop delay is the
// server's alone (the benchmark's clients run in the parent). Messages from the parent:
// 'reset' clears the event-loop histogram, 'report' sends its percentiles back, 'stop' exits.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serveModel } from '../serve/server.js';

const [modelDir] = process.argv.slice(2);
const server = await serveModel({ model: modelDir, port: 0, modelName: 'tiny' });
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
process.on('message', async (msg: string) => {
  if (msg === 'reset') { delay.reset(); process.send!({ reset: true }); }
  else if (msg === 'report') process.send!({ p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 });
  else if (msg === 'stop') { await server.close(); process.exit(0); }
});
process.send!({ url: server.url });
