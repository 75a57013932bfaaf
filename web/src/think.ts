// Splits a chain of thought out of answer text for servers that leave the model's <think>...</think> tags in
// `content` instead of sending `reasoning_content` (or whose template pre-fills "<think>", so only the closing
// tag appears). Applied to the whole text so far on every delta, so chunk boundaries do not matter.

export interface Split {
  reasoning: string;
  content: string;
}

const kOpen = "<think>";
const kClose = "</think>";

export function split_think(raw: string): Split {
  const lead = raw.trimStart();
  if (lead.startsWith(kOpen)) {
    const body = lead.slice(kOpen.length);
    const end = body.indexOf(kClose);
    if (end < 0) return { reasoning: strip_partial_close(body), content: "" };
    return { reasoning: body.slice(0, end), content: body.slice(end + kClose.length).trimStart() };
  }
  if (lead !== "" && kOpen.startsWith(lead)) return { reasoning: "", content: "" }; // "<thi" may become <think>
  const end = raw.indexOf(kClose);
  if (end >= 0) return { reasoning: raw.slice(0, end), content: raw.slice(end + kClose.length).trimStart() };
  return { reasoning: "", content: raw };
}

// While streaming, "...</thi" is probably the closing tag arriving in pieces; hold it back.
function strip_partial_close(text: string): string {
  for (let n = kClose.length - 1; n > 0; n--) {
    if (text.endsWith(kClose.slice(0, n))) return text.slice(0, text.length - n);
  }
  return text;
}
