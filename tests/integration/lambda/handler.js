// Functions for the lambda target tests: every invocation is appended as
// one JSON line ({"fn": name, "event": the event}) to the file named by
// TUPELO_LAMBDA_LOG, when that is set, so a test can count invocations
// and see what each one received.
"use strict";

const fs = require("node:fs");

function record(fn, event) {
  const path = process.env.TUPELO_LAMBDA_LOG;

  if (path) {
    fs.appendFileSync(path, JSON.stringify({ fn: fn, event: event }) +
      "\n");
  }
}

function records(event) {
  return event && Array.isArray(event.Records) ? event.Records : [];
}

// Succeeds.
module.exports.ok = async (event) => {
  record("ok", event);
  return { status: "ok", count: records(event).length };
};

// Fails: an unhandled error (X-Amz-Function-Error: Unhandled).
module.exports.boom = async (event) => {
  record("boom", event);
  throw new Error("boom");
};

// Reports as failed each record whose body contains "bad".
module.exports.partial = async (event) => {
  record("partial", event);
  return {
    batchItemFailures: records(event)
      .filter((r) => String(r.body).includes("bad"))
      .map((r) => ({ itemIdentifier: r.messageId })),
  };
};
