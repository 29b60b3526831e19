// Composes a supergraph from subgraph SDLs with two real composers: Apollo's (@apollo/composition, what
// rover and Apollo Router use) and The Guild's (@theguild/federation-composition, what Hive uses).
//
// stdin:  {"subgraphs": [{"name": "sessions", "url": "http://...", "sdl": "..."}, ...]}
// stdout: {"apollo": {"errors": [...], "hints": [...], "supergraphSdl": "..."},
//          "guild":  {"errors": [...], "supergraphSdl": "..."}}
import { composeServices as composeWithApollo } from "@apollo/composition";
import { composeServices as composeWithGuild } from "@theguild/federation-composition";
import { parse } from "graphql";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { subgraphs } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const services = subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) }));

const apollo = composeWithApollo(services);
const guild = composeWithGuild(services);
const describe = (item) => ({ code: item.code ?? item.definition?.code ?? item.extensions?.code ?? null, message: item.message });

process.stdout.write(
  JSON.stringify({
    apollo: {
      errors: (apollo.errors ?? []).map(describe),
      hints: (apollo.hints ?? []).map(describe),
      supergraphSdl: apollo.supergraphSdl ?? null,
    },
    guild: {
      errors: (guild.errors ?? []).map(describe),
      supergraphSdl: guild.supergraphSdl ?? null,
    },
  }),
);
