/** A response body as text, or undefined when it is larger than `maxBytes` (read no further). */
export async function readCapped(
  body: AsyncIterable<Buffer>,
  maxBytes: number,
): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) return undefined; // leaving the loop destroys the body
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
