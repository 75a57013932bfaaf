// llama.cpp (node-llama-cpp, CPU) as the oracle of the GGUF tests: greedy continuation of a prompt, then the
// probabilities after the prompt, with an f32 KV cache like whale's so F32 models can be held to a tight
// tolerance.
export async function llamaRun(llama, modelPath, prompt, {generate, contextSize}) {
  const model = await llama.loadModel({modelPath});
  const context = await model.createContext({contextSize, threads: 2, flashAttention: false,
                                             experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
  const sequence = context.getSequence();
  const tokens = [];
  for await (const t of sequence.evaluate(prompt, {temperature: 0})) {
    tokens.push(t);
    if (tokens.length >= generate) break;
  }
  await sequence.clearHistory();
  const items = prompt.slice(0, -1);
  items.push([prompt.at(-1), {generateNext: {probabilities: true, options: {temperature: 1, topK: 1 << 30, topP: 1, minP: 0}}}]);
  const result = await sequence.controlledEvaluate(items);
  const probabilities = result.at(-1).next.probabilities;
  await context.dispose();
  await model.dispose();
  return {tokens, probabilities};
}
