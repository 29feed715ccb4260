"""A real TCP relay between devices and a server on loopback, which can
fail as networks do: lose what devices send and then cut every connection
(right after a device acknowledged something), or close a connection in
the middle of what a device is sending."""

import socket
import threading

import harness


class TcpProxy:
    def __init__(self):
        self.target_port = None  # set before the first device connects
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = harness.free_port()
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self.lock = threading.Lock()
        self.pairs = []
        # Close a device's connection once it has sent this many bytes: its
        # writes after that meet a closed socket (RST, then EPIPE).
        self.close_after_upward = None
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                device, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self.target_port))
            pair = {"sockets": (device, server), "lose_upward": False, "upward_left": self.close_after_upward}
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=(device, server, pair, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, device, pair, False), daemon=True).start()

    @staticmethod
    def _pump(src, dst, pair, upward):
        try:
            while data := src.recv(65536):
                if upward and pair["upward_left"] is not None:
                    pair["upward_left"] -= len(data)
                    if pair["upward_left"] < 0:
                        src.close()
                        return
                if not (upward and pair["lose_upward"]):
                    dst.sendall(data)
        except OSError:
            pass  # cut

    def lose_upward(self):
        """From now on, what the connected devices send reaches nobody."""
        with self.lock:
            for pair in self.pairs:
                pair["lose_upward"] = True

    def cut(self):
        """Closes every connection, both ends; new ones work again."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair["sockets"]:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()
        self.cut()
