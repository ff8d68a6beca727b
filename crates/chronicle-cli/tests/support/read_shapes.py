"""Reads a stream from a Chronicle server with the Python standard library
only, and prints one line per event: its schema_version and data as JSON
(proof that a client in another language sees the current shapes)."""
import json
import sys
import urllib.request

host, port, stream = sys.argv[1], sys.argv[2], sys.argv[3]
with urllib.request.urlopen(f"http://{host}:{port}/streams/{stream}") as answer:
    for event in json.load(answer):
        print(json.dumps({"schema_version": event["schema_version"], "data": event["data"]}, sort_keys=True))
