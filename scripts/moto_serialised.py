"""Runs moto server exactly as its `moto_server` command does, with one difference: DynamoDB
requests are served one at a time.

Why: moto 5.x does not isolate concurrent DynamoDB writes. Its TransactWriteItems checks
each condition and then writes, item by item, with no lock, and on a failed condition it
restores a copy of the whole table taken when it started; the werkzeug server runs every
request on its own thread. So two mutually exclusive transactions can both succeed, and a
failing one can undo a concurrent winner. DynamoDB itself runs transactions serialisably,
and frostline's single-use nonces rest on that. Serialising DynamoDB requests gives moto
the same guarantee; test/integration/transaction-isolation.test.ts proves it.

Only DynamoDB is serialised: other services keep one thread per request, so SQS long polls
(ReceiveMessage with WaitTimeSeconds) still wait side by side.

Usage (the arguments of `moto_server`): python scripts/moto_serialised.py -H 127.0.0.1 -p 5000

It relies on three names in moto.server (main, DomainDispatcherApplication, run_simple);
if moto moves them it exits with an error instead of running unserialised.
"""

import sys
import threading

EXIT_HOOK_MISSING = 3
# The JSON protocol names the operation in X-Amz-Target: "DynamoDB_20120810.TransactWriteItems".
# This is the AWS wire protocol, not a moto internal; moto routes DynamoDB by the same header.
DYNAMODB_TARGET_PREFIXES = ("DynamoDB_", "DynamoDBStreams_")


def refuse(reason):
    sys.stderr.write(
        f"moto_serialised: {reason}.\n"
        "moto_serialised: refusing to run moto without serialised DynamoDB requests "
        "(its TransactWriteItems is not isolated under concurrency); update scripts/moto_serialised.py "
        "for this moto version.\n"
    )
    sys.exit(EXIT_HOOK_MISSING)


try:
    import moto.server as moto_server
except ImportError as error:
    refuse(f"cannot import moto.server ({error})")

for name in ("main", "DomainDispatcherApplication", "run_simple"):
    if not callable(getattr(moto_server, name, None)):
        refuse(f"moto.server.{name} is missing")

_Dispatcher = moto_server.DomainDispatcherApplication
if not isinstance(_Dispatcher, type) or not callable(getattr(_Dispatcher, "__call__", None)):
    refuse("moto.server.DomainDispatcherApplication is not a WSGI application class")

DYNAMODB_LOCK = threading.Lock()


# Sent on moto's own API answers (/moto-api/...), where scripts/emulator.mjs waits for moto to
# come up: it refuses a moto that answers without it, i.e. one not served by this dispatcher.
MARK_HEADER = ("X-Frostline-DynamoDB", "serialised")


class SerialisedDynamoDBDispatcher(_Dispatcher):
    """moto's WSGI dispatcher, holding one process-wide lock around each DynamoDB request."""

    def __call__(self, environ, start_response):
        if (environ.get("PATH_INFO") or "").startswith("/moto-api"):
            def marked_start_response(status, headers, *args):
                return start_response(status, [*headers, MARK_HEADER], *args)

            return super().__call__(environ, marked_start_response)
        target = environ.get("HTTP_X_AMZ_TARGET") or ""
        if not target.startswith(DYNAMODB_TARGET_PREFIXES):
            return super().__call__(environ, start_response)
        with DYNAMODB_LOCK:
            result = super().__call__(environ, start_response)
            # Read the whole body under the lock, so no part of the request runs outside it.
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


_run_simple = moto_server.run_simple


def checked_run_simple(hostname, port, application, *args, **kwargs):
    # Proof that moto's main() built its server from our dispatcher and not some other class.
    if not isinstance(application, SerialisedDynamoDBDispatcher):
        refuse(f"moto.server.main() serves a {type(application).__name__}, not the serialising dispatcher")
    sys.stderr.write("moto_serialised: DynamoDB requests are serialised (one at a time); other services stay concurrent\n")
    return _run_simple(hostname, port, application, *args, **kwargs)


moto_server.DomainDispatcherApplication = SerialisedDynamoDBDispatcher
moto_server.run_simple = checked_run_simple

if __name__ == "__main__":
    sys.exit(moto_server.main(sys.argv[1:]))
