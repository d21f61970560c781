/**
 * What logs and operations alerts say about a webhook URL: its origin (`scheme://host[:port]`)
 * only. Paths and queries of webhook URLs often carry a token of their own (Slack, Discord…).
 */
export function webhookOrigin(url: string): string {
  try {
    const { origin } = new URL(url);
    return origin === 'null' ? 'invalid URL' : origin;
  } catch {
    return 'invalid URL';
  }
}
