// `gmai serve --model DIR`: the OpenAI-compatible chat-completions server (lib/serve/server.ts)
// until Ctrl-C.
import { serveModel } from '../serve/server.js';
import { numberOption, parseCommand, stringOption, type CommandSpec } from './command.js';

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'An OpenAI-compatible HTTP server: POST /v1/chat/completions (streaming, n, logprobs, images), GET /v1/models, GET /health.',
  required: ['model'],
  options: {
    model: { type: 'string', value: 'DIR', description: 'model folder' },
    host: { type: 'string', value: 'ADDR', description: 'address to bind (default 127.0.0.1: this machine only)' },
    port: { type: 'string', value: 'N', description: 'port (default 8080; 0 = any free port)' },
    name: { type: 'string', value: 'ID', description: 'model id for requests and /v1/models (default: the folder name)' },
    'api-key': { type: 'string', value: 'KEY', description: 'require "Authorization: Bearer KEY" (default: $GMAI_API_KEY, else none)' },
    'allow-images': { type: 'string', value: 'DIR', description: 'let image_url name local files (DICOM too) under DIR (default: data: URLs only)' },
    'max-body-mb': { type: 'string', value: 'MB', description: 'largest request body (default 32)' },
    'max-tokens': { type: 'string', value: 'N', description: 'largest max_tokens, and the default (default 4096)' },
  },
  notes: 'Example: curl http://127.0.0.1:8080/v1/chat/completions -H "content-type: application/json" \\\n  -d \'{"model":"NAME","messages":[{"role":"user","content":"Hello"}],"max_tokens":32}\'\nSee docs/serving.md.',
};

export async function serve(argv: string[]): Promise<number> {
  const v = parseCommand(serveCommand, argv);
  if (!v) return 0;
  const port = numberOption(v, 'port', 8080, { integer: true, min: 0, max: 65535 });
  const maxBodyBytes = Math.round(numberOption(v, 'max-body-mb', 32, { min: 0.001 }) * 2 ** 20);
  const maxTokens = numberOption(v, 'max-tokens', 4096, { integer: true, min: 1 });
  process.stderr.write(`loading ${stringOption(v, 'model')} …\n`);
  const server = await serveModel({
    model: stringOption(v, 'model'), host: stringOption(v, 'host'), port, modelName: stringOption(v, 'name'),
    apiKey: stringOption(v, 'api-key') ?? process.env.GMAI_API_KEY, allowedImageDir: stringOption(v, 'allow-images'),
    maxBodyBytes, limits: { maxTokens },
  });
  process.stderr.write(`serving '${server.modelName}' at ${server.url}/v1 (Ctrl-C stops)\n`);
  await new Promise<void>((done) => process.once('SIGINT', done));
  process.stderr.write('stopping …\n');
  await server.close();
  return 0;
}
