"""A consumer-group client in plain Python (standard library only): joins
GET /subscriptions/{group}/connect over a hand-rolled WebSocket, acks every
event (nacks the "poison" one for a retry), prints one JSON line per handled
event (before its ack), reconnects when the server goes away, and exits
after IDLE seconds without a delivery.

usage: group_consumer.py HOST PORT GROUP IDLE_SECONDS
"""
import base64, json, os, socket, struct, sys, time

HOST, PORT, GROUP, IDLE = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])


class Closed(Exception):
    pass


class WebSocket:
    def __init__(self):
        self.sock = socket.create_connection((HOST, PORT), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /subscriptions/{GROUP}/connect HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0] + b" ":
            raise Closed(head.split(b"\r\n")[0].decode())
        self.sock.settimeout(0.5)

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed("end of stream")
        self.buf += chunk

    def frame(self):
        """One whole frame from the buffer, or None (nothing consumed)."""
        if len(self.buf) < 2:
            return None
        op, n, at = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
        if n == 126:
            if len(self.buf) < 4:
                return None
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            if len(self.buf) < 10:
                return None
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        if len(self.buf) < at + n:
            return None
        data, self.buf = self.buf[at:at + n], self.buf[at + n:]
        return op, data

    def recv(self):
        while True:
            f = self.frame()
            if f is not None:
                return f
            self.fill()  # may raise socket.timeout with nothing consumed

    def send(self, op, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | op])
        head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


last = time.time()
while time.time() - last < IDLE:
    try:
        ws = WebSocket()
    except (OSError, Closed):
        time.sleep(0.2)
        continue
    try:
        while time.time() - last < IDLE:
            try:
                op, data = ws.recv()
            except socket.timeout:
                continue
            if op == 1:
                msg = json.loads(data)
                event = msg["event"]
                last = time.time()
                if event["data"].get("poison"):
                    ws.send(1, json.dumps({"nack": [event["event_id"]], "action": "retry"}).encode())
                    continue
                # Handled (recorded), then acknowledged.
                print(json.dumps({"n": event["data"]["n"], "stream": event["stream_id"], "version": event["version"],
                                  "retry": msg["retry_count"], "at": time.time_ns()}), flush=True)
                ws.send(1, json.dumps({"ack": [event["event_id"]]}).encode())
            elif op == 8:
                ws.send(8, data[:2])
                break
            elif op == 9:
                ws.send(10, data)
    except (OSError, Closed):
        pass
    finally:
        ws.sock.close()
