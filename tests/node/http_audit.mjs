// Runs the GraphQL-over-HTTP specification's audits (graphql-http's serverAudits) against a live server.
//
// stdin:  {"url": "http://127.0.0.1:PORT/graphql"}
// stdout: [{"id": "22EB", "name": "SHOULD accept ...", "status": "ok" | "warn" | "error", "reason": "..."}, ...]
import { serverAudits } from "graphql-http";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { url } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const results = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  results.push({ id: result.id, name: result.name, status: result.status, reason: result.reason ?? null });
}
process.stdout.write(JSON.stringify(results));
