"""The legacy IM server's notification side, as the Toutiao `im/server` runs it: a python-socketio
server whose client manager is KombuManager on RabbitMQ, with one socket.io client in the room
of a user. Every `following notify` that reaches that room is printed, so a test can see what the
legacy frontend would.

    python im_server.py AMQP_URL USER_ID

Prints `READY` once a message has made the round trip through the broker (the manager's queue
exists only after the first client connects), then `EVENT <json>` for each notification.
"""

import json
import sys
import threading
import time

import socketio
from werkzeug.serving import make_server

URL, ROOM = sys.argv[1], str(sys.argv[2])

server = socketio.Server(async_mode="threading", client_manager=socketio.KombuManager(URL))


@server.event
def connect(sid, environ, auth=None):
    # The legacy server puts each connection in the room of its user (im/server/notify.py).
    server.enter_room(sid, ROOM)


http = make_server("127.0.0.1", 0, socketio.WSGIApp(server), threaded=True)
threading.Thread(target=http.serve_forever, daemon=True).start()

client = socketio.Client()
probed = threading.Event()
client.on("probe", lambda data: probed.set())


@client.on("following notify")
def notified(data):
    print("EVENT " + json.dumps(data, sort_keys=True), flush=True)


client.connect(f"http://127.0.0.1:{http.server_port}", transports=["polling"])
probe = socketio.KombuManager(URL, write_only=True)
deadline = time.time() + 30
while not probed.is_set() and time.time() < deadline:
    probe.emit("probe", {}, room=ROOM, namespace="/")
    probed.wait(0.5)
print("READY" if probed.is_set() else "NOT READY", flush=True)
client.wait()
