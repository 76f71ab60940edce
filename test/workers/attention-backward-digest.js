// Prints attentionBackwardDigest(seed) computed with the thread count of GMAI_NUM_THREADS (read
// when the addon loads): test/attention-backward-threads.test.js compares it across processes.
import { attentionBackwardDigest } from '../attention-helpers.js';

const { Tensor, ops } = await import('../../dist/index.js');
process.stdout.write(attentionBackwardDigest({ Tensor, ops }, Number(process.argv[2])));
