// A Fedify server (an ActivityPub implementation nobody on peerpx wrote) that looks up a peerpx
// user, follows them, and reports what it sees, one JSON object a line on stdout, for
// tests/it/federation_fedify.rs to assert on.
//
// Run with the Node 22 that the `node` npm package installs (Fedify needs Node >= 22):
//   tests/fedify/node_modules/node/bin/node tests/fedify/server.mjs \
//     --actor http://127.0.0.1:PORT/users/ana --note http://127.0.0.1:PORT/users/ana/statuses/ID
//
// It has two users: `fedi` (--user), who looks up and follows the peerpx user, and `fern`
// (--followed), who does nothing but accept whoever follows her (so peerpx can find a Fedify
// user by WebFinger and follow one). Both have an RSA key and an Ed25519 key, as Fedify apps
// usually do: HTTP signatures use the RSA one, and the activities they send also carry an
// Ed25519 Object Integrity Proof, which peerpx ignores.
//
// It listens on 127.0.0.1 (an ephemeral port) over plain http, with Fedify's
// `allowPrivateAddress` on: production Fedify refuses loopback and resolves `acct:` handles
// over https only, so it finds the peerpx user by WebFinger on the actor URL itself.
//
// Lines it prints (`event` tells them apart):
//   listening    {origin, actor, followed}       where the Fedify users are
//   webfinger    {resource, subject, aliases, self, profile}
//   actor        {id, type, isPerson, preferredUsername, name, inbox, sharedInbox, followers,
//                 outbox, url, manuallyApprovesFollowers, publicKey: {id, owner, algorithm,
//                 modulusLength, spki}}
//   note         {id, type, isNote, attributedTo, content, published, url, to, cc, sensitive,
//                 tags, attachments: [{type, isImage, mediaType, url, name, width, height}]}
//   follow_sent  {id, to}
//   request      {method, path, status, signature}   every request Fedify's server answered
//   sent         {method, url, signature, status | error}   every request Fedify made
//   verified     {path, verified, keyId, owner, spec, reason}   an inbox POST checked on its own
//   follow       {id, actor, object}             a Follow of `fern` (answered with Accept)
//   accept_sent  {id, to}
//   accept / create / activity                    what the inbox listeners received (only
//                                                 activities whose signature Fedify verified)
//   unverified   {id, type, reason}               an activity Fedify refused to verify
//   error        {step, message}
// It exits when its standard input closes, or after --lifetime seconds (default 300).

import http from "node:http";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";

import {
  createFederation,
  generateCryptoKeyPair,
  MemoryKvStore,
  verifyRequestDetailed,
} from "@fedify/fedify";
import { getDocumentLoader } from "@fedify/vocab-runtime";
import { configure, defaultTextFormatter } from "@logtape/logtape";
import {
  Accept,
  Activity,
  Create,
  Endpoints,
  Follow,
  Image,
  isActor,
  Note,
  Person,
  Reject,
} from "@fedify/vocab";

const { values: args } = parseArgs({
  options: {
    actor: { type: "string" },
    note: { type: "string" },
    user: { type: "string", default: "fedi" },
    followed: { type: "string", default: "fern" },
    lifetime: { type: "string", default: "300" },
  },
});
if (!args.actor || !args.note) {
  process.stderr.write("usage: server.mjs --actor URL --note URL [--user NAME] [--followed NAME] [--lifetime SECS]\n");
  process.exit(2);
}
const USER = args.user;
const USERS = [args.user, args.followed];

// Fedify's own log (why it refused something) goes to stderr; stdout carries only our lines.
// FEDIFY_LOG_LEVEL=debug shows every request it makes and every signature it checks.
await configure({
  sinks: { stderr: (record) => process.stderr.write(defaultTextFormatter(record)) },
  loggers: [
    { category: "fedify", sinks: ["stderr"], lowestLevel: process.env.FEDIFY_LOG_LEVEL ?? "warning" },
    { category: ["logtape", "meta"], sinks: ["stderr"], lowestLevel: "error" },
  ],
});

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function errorMessage(e) {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

// Every request Fedify makes (lookups, key fetches, deliveries), with the signature it carried and
// the answer, so the test sees Fedify's double knock: RFC 9421 first, draft-cavage after a 401.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  const url = input instanceof Request ? input.url : String(input);
  const signature = headers.has("signature-input")
    ? "rfc9421"
    : headers.has("signature")
      ? "draft-cavage"
      : null;
  try {
    const response = await realFetch(input, init);
    emit("sent", { method, url, signature, status: response.status });
    return response;
  } catch (e) {
    emit("sent", { method, url, signature, error: errorMessage(e) });
    throw e;
  }
};

const href = (u) => (u == null ? null : u instanceof URL ? u.href : u.href?.href ?? String(u));

// Each user's keys, RSA first (the one HTTP signatures use, as Mastodon and peerpx verify), then
// Ed25519 (Object Integrity Proofs).
const keyPairs = new Map();
for (const user of USERS) {
  keyPairs.set(user, [
    await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
    await generateCryptoKeyPair("Ed25519"),
  ]);
}

// Fedify routes by URL; its origin is known once the port is.
const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const loader = getDocumentLoader({ allowPrivateAddress: true });

const federation = createFederation({
  kv: new MemoryKvStore(),
  origin,
  // Loopback, plain http: for this test only.
  allowPrivateAddress: true,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (!USERS.includes(identifier)) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: identifier === USER ? "Fedify tester" : "Fern on Fedify",
      summary: "A Fedify user meeting peerpx",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      url: ctx.getActorUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => keyPairs.get(identifier) ?? [])
  .mapHandle((_ctx, username) => (USERS.includes(username) ? username : null));

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Accept, async (ctx, accept) => {
    const object = await accept.getObject({ crossOrigin: "trust" }).catch(() => null);
    emit("accept", {
      id: href(accept.id),
      actor: href(accept.actorId),
      object: href(accept.objectId),
      objectType: object?.constructor?.name ?? null,
      objectActor: object instanceof Follow ? href(object.actorId) : null,
      objectObject: object instanceof Follow ? href(object.objectId) : null,
      recipient: ctx.recipient,
    });
  })
  .on(Follow, async (ctx, follow) => {
    const target = ctx.parseUri(follow.objectId);
    emit("follow", {
      id: href(follow.id),
      actor: href(follow.actorId),
      object: href(follow.objectId),
      recipient: ctx.recipient,
    });
    if (target?.type !== "actor" || follow.actorId == null) return;
    const follower = await follow.getActor();
    if (follower == null) {
      emit("error", { step: "follow.getActor", message: `no actor at ${href(follow.actorId)}` });
      return;
    }
    const id = new URL(`/accepts/${randomUUID()}`, origin);
    await ctx.sendActivity(
      { identifier: target.identifier },
      follower,
      new Accept({ id, actor: follow.objectId, object: follow }),
    );
    emit("accept_sent", { id: id.href, to: href(follower.id) });
  })
  .on(Reject, async (ctx, reject) => {
    emit("reject", { id: href(reject.id), actor: href(reject.actorId), recipient: ctx.recipient });
  })
  .on(Create, async (ctx, create) => {
    let note = null;
    try {
      note = await create.getObject();
    } catch (e) {
      emit("error", { step: "create.getObject", message: errorMessage(e) });
    }
    emit("create", {
      id: href(create.id),
      actor: href(create.actorId),
      recipient: ctx.recipient,
      to: create.toIds.map(href),
      cc: create.ccIds.map(href),
      object: note == null ? null : await describeNote(note),
    });
  })
  .on(Activity, async (ctx, activity) => {
    emit("activity", {
      id: href(activity.id),
      type: activity.constructor.name,
      actor: href(activity.actorId),
      recipient: ctx.recipient,
    });
  })
  .onUnverifiedActivity((_ctx, activity, reason) => {
    emit("unverified", {
      id: href(activity.id),
      type: activity.constructor.name,
      reason: describeReason(reason),
    });
  })
  .onError((_ctx, e) => emit("error", { step: "inbox", message: errorMessage(e) }));

function describeReason(reason) {
  const out = { type: reason.type };
  if (reason.keyId) out.keyId = href(reason.keyId);
  if (reason.result) out.result = JSON.parse(JSON.stringify(reason.result, (_k, v) =>
    v instanceof URL ? v.href : v instanceof Error ? errorMessage(v) : v));
  return out;
}

async function describeNote(note) {
  const attachments = [];
  for await (const a of note.getAttachments()) {
    attachments.push({
      type: a.constructor.name,
      isImage: a instanceof Image,
      mediaType: a.mediaType ?? null,
      url: href(a.url),
      name: a.name?.toString() ?? null,
      width: a.width ?? null,
      height: a.height ?? null,
    });
  }
  const tags = [];
  for await (const t of note.getTags()) {
    tags.push({ type: t.constructor.name, name: t.name?.toString() ?? null, href: href(t.href) });
  }
  return {
    id: href(note.id),
    type: note.constructor.name,
    isNote: note instanceof Note,
    attributedTo: href(note.attributionId),
    content: note.content?.toString() ?? null,
    published: note.published?.toString() ?? null,
    url: href(note.url),
    to: note.toIds.map(href),
    cc: note.ccIds.map(href),
    sensitive: note.sensitive ?? null,
    tags,
    attachments,
  };
}

// node:http to the fetch API Fedify speaks, logging every request and checking every inbox
// POST's signature once more on its own (so the test sees which key and which spec verified).
server.on("request", async (req, res) => {
  try {
    const url = new URL(req.url, origin);
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, { method: req.method, headers, body: hasBody ? body : undefined });
    const signature = headers.has("signature-input")
      ? "rfc9421"
      : headers.has("signature")
        ? "draft-cavage"
        : null;
    if (req.method === "POST" && url.pathname.endsWith("/inbox")) {
      const result = await verifyRequestDetailed(request.clone(), {
        documentLoader: loader,
        contextLoader: loader,
      });
      emit("verified", {
        path: url.pathname,
        verified: result.verified,
        spec: signature,
        keyId: result.verified ? href(result.key.id) : null,
        owner: result.verified ? href(result.key.ownerId) : null,
        reason: result.verified ? null : describeReason(result.reason),
      });
    }
    const response = await federation.fetch(request, {
      contextData: undefined,
      onNotFound: () => new Response("Not found", { status: 404 }),
      onNotAcceptable: () => new Response("Not acceptable", { status: 406 }),
    });
    emit("request", { method: req.method, path: url.pathname, status: response.status, signature });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    emit("error", { step: "http", message: errorMessage(e) });
    res.writeHead(500);
    res.end();
  }
});

const ctx = federation.createContext(new URL(origin), undefined);
emit("listening", {
  origin,
  actor: ctx.getActorUri(USER).href,
  followed: ctx.getActorUri(args.followed).href,
});

async function step(name, work) {
  try {
    return await work();
  } catch (e) {
    emit("error", { step: name, message: errorMessage(e) });
    return null;
  }
}

// WebFinger, by the actor URL (acct: would go to https://…).
const jrd = await step("webfinger", () => ctx.lookupWebFinger(args.actor));
const self = jrd?.links?.find((l) => l.rel === "self" && /activity\+json|ld\+json/.test(l.type ?? ""));
emit("webfinger", {
  resource: args.actor,
  subject: jrd?.subject ?? null,
  aliases: jrd?.aliases ?? [],
  self: self?.href ?? null,
  profile: jrd?.links?.find((l) => l.rel === "http://webfinger.net/rel/profile-page")?.href ?? null,
});

// The actor WebFinger pointed to, parsed by Fedify's vocabulary.
const actor = await step("actor", () => ctx.lookupObject(self?.href ?? args.actor));
if (actor == null) emit("error", { step: "actor", message: `no actor at ${self?.href ?? args.actor}` });
else {
  const key = await step("actor.getPublicKey", () => actor.getPublicKey());
  const spki = key?.publicKey == null ? null : await crypto.subtle.exportKey("spki", key.publicKey);
  emit("actor", {
    id: href(actor.id),
    type: actor.constructor.name,
    isActor: isActor(actor),
    isPerson: actor instanceof Person,
    preferredUsername: actor.preferredUsername?.toString() ?? null,
    name: actor.name?.toString() ?? null,
    summary: actor.summary?.toString() ?? null,
    inbox: href(actor.inboxId),
    sharedInbox: href(actor.endpoints?.sharedInbox),
    followers: href(actor.followersId),
    following: href(actor.followingId),
    outbox: href(actor.outboxId),
    url: href(actor.url),
    manuallyApprovesFollowers: actor.manuallyApprovesFollowers ?? null,
    publicKey: key == null ? null : {
      id: href(key.id),
      owner: href(key.ownerId),
      algorithm: key.publicKey?.algorithm?.name ?? null,
      modulusLength: key.publicKey?.algorithm?.modulusLength ?? null,
      spki: spki == null ? null : Buffer.from(spki).toString("base64"),
    },
  });
}

// A photo post, parsed by Fedify's vocabulary.
const note = await step("note", () => ctx.lookupObject(args.note));
if (note == null) emit("error", { step: "note", message: `no object at ${args.note}` });
else emit("note", await describeNote(note));

// Follow the peerpx user; its Accept and later posts arrive at the inbox listeners above.
if (actor != null && isActor(actor)) {
  const id = new URL(`/follows/${randomUUID()}`, origin);
  const sent = await step("follow", () =>
    ctx
      .sendActivity(
        { identifier: USER },
        actor,
        new Follow({ id, actor: ctx.getActorUri(USER), object: actor.id }),
      )
      .then(() => true));
  if (sent) emit("follow_sent", { id: id.href, to: href(actor.id) });
}

// Stop when the test is done with us (stdin closes) or, at the latest, after --lifetime.
const stop = () => {
  server.close();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
setTimeout(stop, Number(args.lifetime) * 1000).unref();
