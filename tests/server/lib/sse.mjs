// Reads an SSE capture (file in argv[2]) and prints a JSON summary: the events in order, the reasoning and
// content joined, whether any reasoning came after content, the finish reason, usage, comments, and framing
// errors (every event must be `data: ...` followed by a blank line; the last must be [DONE]).
import fs from "node:fs";

const text = fs.readFileSync(process.argv[2], "utf8");
const summary = { reasoning: "", content: "", reasoning_after_content: false, finish_reason: null, usage: null,
  comments: 0, chunks: 0, done_last: false, framing_errors: [], roles: [], errors: [], ids: new Set() };
const events = text.split("\n\n");
if (events[events.length - 1] !== "") summary.framing_errors.push("stream does not end with a blank line");
events.pop();
events.forEach((event, i) => {
  if (event.startsWith(": ")) { summary.comments++; return; }
  if (!event.startsWith("data: ") || event.includes("\n")) { summary.framing_errors.push(`bad event ${i}: ${event.slice(0, 40)}`); return; }
  const payload = event.slice(6);
  if (payload === "[DONE]") { summary.done_last = i === events.length - 1; return; }
  const chunk = JSON.parse(payload);
  if (chunk.error) { summary.errors.push(chunk.error); return; }
  summary.chunks++;
  summary.ids.add(chunk.id);
  if (chunk.usage) summary.usage = chunk.usage;
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta ?? { content: choice.text };
    if (delta.role) summary.roles.push(delta.role);
    if (delta.reasoning_content) {
      if (summary.content.length > 0) summary.reasoning_after_content = true;
      summary.reasoning += delta.reasoning_content;
    }
    if (delta.content) summary.content += delta.content;
    if (choice.finish_reason) summary.finish_reason = choice.finish_reason;
  }
});
summary.ids = summary.ids.size;
console.log(JSON.stringify(summary));
