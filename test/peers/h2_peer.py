#!/usr/bin/env python3
"""An independent HTTP/2 peer for HBONE interop tests, built on Python's `h2` (python3-h2).

  h2_peer.py client HOST PORT CERT KEY CA TARGET STREAMS SIZE [RESET_TARGET]
      Opens STREAMS CONNECT streams to TARGET, sends SIZE bytes on each then END_STREAM (half-close),
      reads the echo and compares digests. Then resets one stream itself (CANCEL) and, with
      RESET_TARGET, opens one whose upstream resets (expects RST_STREAM CONNECT_ERROR).
      Prints one JSON line with the outcome.
  h2_peer.py server CERT KEY CA
      Prints "listening PORT", then serves CONNECT streams: answers 200 and echoes every byte within
      the flow-control windows, ends its side when the client does; a stream whose first bytes are
      b"reset-me" is reset with CONNECT_ERROR. Runs until killed.

h2 4.1 insists on :scheme and :path in every request, which a plain CONNECT (RFC 9113 section 8.5)
must not carry, so its header validation is turned off for requests (framing, HPACK and flow control
are still entirely h2's).
"""
import hashlib
import json
import select
import socket
import ssl
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.errors


def pattern(stream_id, size):
    seed = hashlib.sha256(str(stream_id).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class Sender:
    """Outbound bytes per stream, sent as the peer's windows allow."""

    def __init__(self, conn):
        self.conn = conn
        self.queue = {}  # stream id -> [bytearray, end_after]

    def add(self, sid, data, end=False):
        q = self.queue.setdefault(sid, [bytearray(), False])
        q[0] += data
        q[1] = q[1] or end
        self.pump(sid)

    def pump(self, sid):
        q = self.queue.get(sid)
        if q is None:
            return
        buf, end = q
        while buf:
            try:
                window = self.conn.local_flow_control_window(sid)
            except Exception:
                self.queue.pop(sid, None)
                return
            n = min(len(buf), window, self.conn.max_outbound_frame_size)
            if n <= 0:
                return
            self.conn.send_data(sid, bytes(buf[:n]))
            del buf[:n]
        if end:
            try:
                self.conn.end_stream(sid)
            except Exception:
                pass
        self.queue.pop(sid, None)

    def pump_all(self):
        for sid in list(self.queue):
            self.pump(sid)


def flush(sock, conn):
    data = conn.data_to_send()
    if data:
        sock.sendall(data)


def run_client(host, port, cert, key, ca, target, streams, size, reset_target):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(socket.create_connection((host, int(port))))
    assert sock.selected_alpn_protocol() == "h2", "no ALPN h2"
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, validate_outbound_headers=False))
    conn.initiate_connection()
    sender = Sender(conn)
    want = {}
    got = {}
    status = {}
    done = set()
    resets = {}
    for _ in range(streams):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(b":method", b"CONNECT"), (b":authority", target.encode())])
        want[sid] = pattern(sid, size)
        got[sid] = bytearray()
    flush(sock, conn)
    cancel_sid = None
    reset_sid = None
    started = False
    while True:
        if started and resets.get(cancel_sid) == "sent" and (reset_sid is None or reset_sid in resets):
            break
        data = sock.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status[ev.stream_id] = dict(ev.headers).get(b":status", b"").decode()
                if ev.stream_id in want and status[ev.stream_id] == "200":
                    sender.add(ev.stream_id, want[ev.stream_id], end=True)
                elif ev.stream_id == cancel_sid:
                    sender.add(cancel_sid, b"some bytes")
                elif ev.stream_id == reset_sid:
                    sender.add(reset_sid, b"reset-me")
            elif isinstance(ev, h2.events.DataReceived):
                if ev.stream_id in got:
                    got[ev.stream_id] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                done.add(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                resets[ev.stream_id] = int(ev.error_code)
            elif isinstance(ev, h2.events.WindowUpdated):
                sender.pump_all()
            elif isinstance(ev, h2.events.ConnectionTerminated):
                print(json.dumps({"error": "GOAWAY %s" % ev.error_code}))
                return
        if not started and all(s in done or s in resets for s in want):
            started = True
            cancel_sid = conn.get_next_available_stream_id()
            conn.send_headers(cancel_sid, [(b":method", b"CONNECT"), (b":authority", target.encode())])
            if reset_target:
                reset_sid = cancel_sid + 2
                conn.send_headers(reset_sid, [(b":method", b"CONNECT"), (b":authority", reset_target.encode())])
        if cancel_sid in status and cancel_sid not in resets and cancel_sid not in done:
            flush(sock, conn)
            conn.reset_stream(cancel_sid, h2.errors.ErrorCodes.CANCEL)
            resets[cancel_sid] = "sent"
        flush(sock, conn)
    ok = sum(1 for s in want if bytes(got[s]) == want[s] and s in done)
    conn.close_connection()
    flush(sock, conn)
    print(json.dumps({
        "streams": len(want),
        "intact": ok,
        "statuses": sorted(set(status.get(s, "none") for s in want)),
        "bytes": sum(len(g) for g in got.values()),
        "cancelSent": resets.get(cancel_sid) == "sent",
        "resetCode": resets.get(reset_sid) if reset_sid else None,
    }))


def serve_conn(sock):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, validate_inbound_headers=False))
    conn.initiate_connection()
    sender = Sender(conn)
    first = {}
    flush(sock, conn)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    h = dict(ev.headers)
                    if h.get(b":method") != b"CONNECT":
                        conn.send_headers(ev.stream_id, [(":status", "400")], end_stream=True)
                    else:
                        conn.send_headers(ev.stream_id, [(":status", "200")])
                        first[ev.stream_id] = True
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if first.pop(ev.stream_id, False) and ev.data.startswith(b"reset-me"):
                        conn.reset_stream(ev.stream_id, h2.errors.ErrorCodes.CONNECT_ERROR)
                        continue
                    sender.add(ev.stream_id, ev.data)
                elif isinstance(ev, h2.events.StreamEnded):
                    sender.add(ev.stream_id, b"", end=True)
                elif isinstance(ev, h2.events.WindowUpdated):
                    sender.pump_all()
                elif isinstance(ev, h2.events.StreamReset):
                    sender.queue.pop(ev.stream_id, None)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    flush(sock, conn)
                    return
            flush(sock, conn)
    except (ssl.SSLError, OSError):
        return
    finally:
        sock.close()


def run_server(cert, key, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    print("listening %d" % lsock.getsockname()[1], flush=True)
    while True:
        raw, _ = lsock.accept()
        try:
            sock = ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            continue
        threading.Thread(target=serve_conn, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "client":
        a = sys.argv[2:]
        run_client(a[0], a[1], a[2], a[3], a[4], a[5], int(a[6]), int(a[7]), a[8] if len(a) > 8 else None)
    elif mode == "server":
        run_server(*sys.argv[2:5])
    else:
        sys.exit("usage: h2_peer.py client|server ...")
